import type { Command } from "commander";
import { ConfigParseError } from "../../core/config/errors.ts";
import { parseDocuments } from "../../core/config/parse-documents.ts";
import type { CliContext } from "../context.ts";
import { formatLabel, labelOf, type DocumentLabel } from "../manifest-documents.ts";
import { readManifestSources } from "../manifest-sources.ts";
import { outputFormat, outputOption, renderStructured } from "../output.ts";

interface Issue {
  path: string;
  message: string;
}

/** The verdict on one document (or on a file that could not be parsed: `document` is then the failing one). */
export interface DocumentVerdict {
  file: string;
  document: number;
  resource: DocumentLabel | null;
  valid: boolean;
  errors: Issue[];
  warnings: Issue[];
}

/** `strait validate -f FILE|DIR|-`: offline schema and field validation, like `istioctl validate`. */
export function registerValidate(program: Command, ctx: CliContext): void {
  program
    .command("validate")
    .alias("v")
    .description("validate config files offline (schema and field rules); exit 1 if any document is invalid")
    .requiredOption("-f, --filename <path...>", "file, directory or - (stdin)")
    .option("-R, --recursive", "descend into subdirectories of a directory given with -f")
    .option("-n, --namespace <ns>", "namespace for documents without metadata.namespace", "default")
    .addOption(outputOption(["json", "yaml"]))
    .addHelpText("after", "\nExamples:\n  strait validate -f deploy/samples/bookinfo.yaml\n  strait validate -R -f test/fixtures/istio/ -o json")
    .action(async (opts: { filename: string[]; recursive?: boolean; namespace: string; output?: string }) => {
      const sources = await readManifestSources(opts.filename, { readStdin: ctx.io.readStdin, recursive: opts.recursive ?? false });
      // Loaded on demand: the validators are only needed by the offline commands.
      const { validateResource } = await import("../../core/config/validate.ts");
      const verdicts: DocumentVerdict[] = [];
      const empty: string[] = [];
      for (const source of sources) {
        let docs: unknown[];
        try {
          docs = parseDocuments(source.text, source.name);
        } catch (err) {
          if (!(err instanceof ConfigParseError)) throw err;
          verdicts.push({ file: source.name, document: err.documentIndex, resource: null, valid: false, errors: [{ path: "", message: err.message }], warnings: [] });
          continue;
        }
        if (docs.length === 0) empty.push(source.name);
        docs.forEach((doc, index) => {
          const result = validateResource(doc, { defaultNamespace: opts.namespace });
          const resource = labelOf(doc, opts.namespace);
          verdicts.push(
            result.ok
              ? { file: source.name, document: index, resource, valid: true, errors: [], warnings: [...result.warnings] }
              : { file: source.name, document: index, resource, valid: false, errors: [...result.errors], warnings: [] },
          );
        });
      }
      const invalid = verdicts.filter((v) => !v.valid).length;
      if (invalid > 0) ctx.fail();
      const format = outputFormat(opts);
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured({ valid: invalid === 0, documents: verdicts, emptyFiles: empty }, format));
        return;
      }
      ctx.io.out(renderVerdicts(verdicts, empty, sources.length));
    });
}

function renderVerdicts(verdicts: readonly DocumentVerdict[], emptyFiles: readonly string[], files: number): string {
  const lines: string[] = emptyFiles.map((f) => `Warning: ${f}: no documents`);
  for (const v of verdicts) {
    const where = v.resource === null ? `${v.file}` : `${v.file} document ${v.document} (${formatLabel(v.resource)})`;
    if (v.resource === null) for (const e of v.errors) lines.push(`Error: ${e.message}`);
    else for (const e of v.errors) lines.push(`Error: ${where}: ${e.path === "" ? "" : `${e.path}: `}${e.message}`);
    for (const w of v.warnings) lines.push(`Warning: ${where}: ${w.path === "" ? "" : `${w.path}: `}${w.message}`);
    if (v.valid) lines.push(`${where} is valid`);
  }
  const invalid = verdicts.filter((v) => !v.valid).length;
  lines.push(
    invalid === 0
      ? `✔ ${verdicts.length} document(s) in ${files} file(s) are valid`
      : `✘ ${invalid} of ${verdicts.length} document(s) in ${files} file(s) are invalid`,
  );
  return `${lines.join("\n")}\n`;
}
