import type { Command } from "commander";
import type { KubeObject } from "../../core/config/kube-context.ts";
import type { AnyResource } from "../../core/config/resource.ts";
import type { CliContext } from "../context.ts";
import { findingsFromResponse, formatFinding, sortFindings, type FindingView } from "../findings.ts";
import { labelOf, parseManifestSources } from "../manifest-documents.ts";
import { readManifestSources } from "../manifest-sources.ts";
import { outputFormat, outputOption, renderStructured } from "../output.ts";

/** Istio's code for a document that fails schema validation (istioctl analyze reports it the same way). */
const SCHEMA_VALIDATION_ERROR = "IST0106";

interface AnalyzeOptions {
  filename?: string[];
  recursive?: boolean;
  namespace?: string;
  rootNamespace: string;
  output?: string;
}

/**
 * `strait analyze [-f FILE|DIR|-]`: cross-resource checks like `istioctl analyze`.
 * With -f it runs offline on the files; without, it asks the control plane about the stored config.
 */
export function registerAnalyze(program: Command, ctx: CliContext): void {
  program
    .command("analyze")
    .description("analyze config for problems (offline with -f, else the stored config); exit 1 on Error findings")
    .option("-f, --filename <path...>", "analyze these files offline instead of the stored config")
    .option("-R, --recursive", "descend into subdirectories of a directory given with -f")
    .option("-n, --namespace <ns>", "only report findings for this namespace")
    .option("--root-namespace <ns>", "mesh root namespace (offline analysis)", "strait-system")
    .addOption(outputOption(["json", "yaml"]))
    .action(async (opts: AnalyzeOptions, cmd: Command) => {
      const all = opts.filename === undefined ? await storedFindings(ctx, cmd) : await fileFindings(ctx, opts);
      const findings = sortFindings(opts.namespace === undefined ? all : all.filter((f) => f.resource.namespace === opts.namespace));
      if (findings.some((f) => f.level === "Error")) ctx.fail();
      const format = outputFormat(opts);
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured({ findings }, format));
        return;
      }
      const scope = opts.namespace === undefined ? "all namespaces" : `namespace: ${opts.namespace}`;
      if (findings.length === 0) {
        ctx.io.out(`✔ No validation issues found when analyzing ${scope}.\n`);
        return;
      }
      ctx.io.out(findings.map((f) => `${formatFinding(f)}\n`).join(""));
      if (findings.some((f) => f.level === "Error")) ctx.io.err(`Error: Analyzers found issues when analyzing ${scope}.\n`);
    });
}

async function storedFindings(ctx: CliContext, cmd: Command): Promise<FindingView[]> {
  return findingsFromResponse(await ctx.client(cmd).request("GET", "/v1/analyze"));
}

/**
 * Offline analysis of files, like `istioctl analyze` on local files: each
 * document is validated (a failure is IST0106, and what still parses of it
 * joins the analysis); Kubernetes Services, Pods and Namespaces are read as
 * context (hosts, endpoints, workloads) and never sent anywhere.
 */
async function fileFindings(ctx: CliContext, opts: AnalyzeOptions): Promise<FindingView[]> {
  const sources = await readManifestSources(opts.filename ?? [], { readStdin: ctx.io.readStdin, recursive: opts.recursive ?? false });
  const docs = parseManifestSources(sources);
  // Loaded on demand: the validators and analyzers are only needed offline.
  const [{ validateResource }, { analyze }, kube] = await Promise.all([
    import("../../core/config/validate.ts"),
    import("../../core/config/analyze.ts"),
    import("../../core/config/kube-context.ts"),
  ]);
  const resources: AnyResource[] = [];
  const context: KubeObject[] = [];
  const findings: FindingView[] = [];
  const schemaError = (d: (typeof docs)[number], e: { path: string; message: string }): FindingView => ({
    code: SCHEMA_VALIDATION_ERROR,
    level: "Error",
    message: `Schema validation error: ${e.path === "" ? "" : `${e.path}: `}${e.message} (${d.source} document ${d.index})`,
    resource: labelOf(d.doc),
    field: e.path,
  });
  for (const d of docs) {
    if (kube.isKubeContextDocument(d.doc)) {
      const k = kube.readKubeContextObject(d.doc, "default");
      if (k.ok) context.push(k.object);
      else findings.push(...k.errors.map((e) => schemaError(d, e)));
      continue;
    }
    const result = validateResource(d.doc);
    if (result.ok) {
      resources.push(result.resource);
      continue;
    }
    findings.push(...result.errors.map((e) => schemaError(d, e)));
    if (result.partial !== undefined) resources.push(result.partial);
  }
  return [...findings, ...analyze(resources, { rootNamespace: opts.rootNamespace, kube: kube.kubeContextOf(context) })];
}
