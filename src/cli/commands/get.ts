import type { Command } from "commander";
import { stringify as toYaml } from "yaml";
import { ServerError, UsageError } from "../cli-errors.ts";
import type { CliContext } from "../context.ts";
import { findingsFromResponse, formatFinding, sortFindings } from "../findings.ts";
import { formatTime, outputFormat, outputOption, renderStructured, renderTable } from "../output.ts";
import { columnsFor } from "../printer-columns.ts";
import { collectionPath, itemPath, resolveKindArg, typeName } from "../resource-paths.ts";
import { arrayAt, isRecord, stringAt, valueAtPath } from "../response-shape.ts";

interface GetOptions {
  namespace: string;
  allNamespaces?: boolean;
  selector?: string;
  output?: string;
}

/** `strait get KIND [NAME]` and `strait describe KIND NAME`. */
export function registerGet(program: Command, ctx: CliContext): void {
  program
    .command("get")
    .description("list resources of a kind, or show one (KIND: kind, plural, short name or kind.group, e.g. vs, virtualservices.networking.istio.io)")
    .argument("<kind>", "gateway|gw, virtualservice|vs, destinationrule|dr, serviceentry|se, workloadentry|we, sidecar, authorizationpolicy|ap, peerauthentication|pa, requestauthentication|ra, ratelimitpolicy|rlp; plural forms and .<group> suffixes work too")
    .argument("[name]", "a resource name")
    .option("-n, --namespace <ns>", "namespace", "default")
    .option("-A, --all-namespaces", "list across all namespaces")
    .option("-l, --selector <selector>", "label selector, e.g. app=reviews,version!=v1")
    .addOption(outputOption(["json", "yaml", "wide"]))
    .addHelpText("after", "\nExamples:\n  strait get vs -A\n  strait get workloadentries -l app=reviews -o wide\n  strait get dr reviews -n bookinfo -o yaml")
    .action(async (kindArg: string, name: string | undefined, opts: GetOptions, cmd: Command) => {
      const info = resolveKindArg(kindArg);
      const all = opts.allNamespaces === true;
      if (all && name !== undefined) throw new UsageError("NAME: a resource cannot be retrieved by name across all namespaces (drop -A)", { field: "NAME" });
      if (name !== undefined && opts.selector !== undefined) throw new UsageError("-l: a selector cannot be combined with a NAME", { field: "-l" });
      const client = ctx.client(cmd);
      const body =
        name === undefined
          ? await client.request("GET", collectionPath(info, all ? undefined : opts.namespace), { query: { labelSelector: opts.selector } })
          : await client.request("GET", itemPath(info, opts.namespace, name));
      const format = outputFormat(opts);
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured(body, format));
        return;
      }
      const items = name === undefined ? arrayAt(body, "items") : [body];
      if (items.length === 0) {
        ctx.io.err(all ? "No resources found\n" : `No resources found in ${opts.namespace} namespace.\n`);
        return;
      }
      const cols = columnsFor(info.kind, { allNamespaces: all, wide: format === "wide" });
      const now = ctx.io.now();
      ctx.io.out(renderTable(cols.map((c) => c.header), items.map((r) => cols.map((c) => c.value(r, now)))));
    });

  program
    .command("describe")
    .description("show one resource in detail, with the analyzer's findings about it")
    .argument("<kind>", "kind, plural, short name or kind.group")
    .argument("<name>", "resource name")
    .option("-n, --namespace <ns>", "namespace", "default")
    .action(async (kindArg: string, name: string, opts: { namespace: string }, cmd: Command) => {
      const info = resolveKindArg(kindArg);
      const client = ctx.client(cmd);
      const resource = await client.request("GET", itemPath(info, opts.namespace, name));
      let findingsText: string;
      try {
        const findings = sortFindings(findingsFromResponse(await client.request("GET", "/v1/analyze"))).filter(
          (f) => f.resource.kind === info.kind && f.resource.namespace === opts.namespace && f.resource.name === name,
        );
        findingsText = findings.length === 0 ? "Findings:     <none>\n" : `Findings:\n${findings.map((f) => `  ${formatFinding(f)}\n`).join("")}`;
      } catch (err) {
        if (!(err instanceof ServerError)) throw err;
        findingsText = `Findings:     <unavailable: ${err.message}>\n`;
      }
      ctx.io.out(describeResource(resource, typeName(info)) + findingsText);
    });
}

/** kubectl-describe-like text: metadata as aligned fields, spec as YAML. */
function describeResource(r: unknown, type: string): string {
  const md = valueAtPath(r, "metadata");
  const pairs = (v: unknown): string =>
    isRecord(v) && Object.keys(v).length > 0 ? Object.entries(v).map(([k, x]) => `${k}=${String(x)}`).join("\n              ") : "<none>";
  const lines = [
    `Name:         ${stringAt(md, "name") ?? ""}`,
    `Namespace:    ${stringAt(md, "namespace") ?? ""}`,
    `Labels:       ${pairs(valueAtPath(md, "labels"))}`,
    `Annotations:  ${pairs(valueAtPath(md, "annotations"))}`,
    `API Version:  ${stringAt(r, "apiVersion") ?? ""}`,
    `Kind:         ${stringAt(r, "kind") ?? ""} (${type})`,
    "Metadata:",
    `  Creation Timestamp:  ${formatTime(valueAtPath(md, "creationTimestamp"))}`,
    `  Generation:          ${String(valueAtPath(md, "generation") ?? "")}`,
    `  Resource Version:    ${String(valueAtPath(md, "resourceVersion") ?? "")}`,
    `  UID:                 ${stringAt(md, "uid") ?? ""}`,
    "Spec:",
    ...toYaml(valueAtPath(r, "spec") ?? {}, { lineWidth: 0 })
      .trimEnd()
      .split("\n")
      .map((l) => `  ${l}`),
  ];
  return `${lines.join("\n")}\n`;
}
