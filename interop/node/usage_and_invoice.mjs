#!/usr/bin/env node
// A billing-grpc client in Node.js: it loads the .proto files at run time with
// @grpc/proto-loader (no generated code), records usage and reads invoices with an API key,
// and prints each answer as one JSON document on stdout. It proves the API works from another
// language; tests/e2e/test_node_interop.py runs it against the real server.
//
//   BILLING_API_KEY=bgk_… node interop/node/usage_and_invoice.mjs <command> [options]
//   node interop/node/usage_and_invoice.mjs --help
//
// Commands (every one takes --address HOST:PORT, default 127.0.0.1:50051):
//   record   --events JSON   RecordUsage: one batch; JSON is an array of usage events with
//                            snake_case fields and a `timestamp`
//   stream   --events JSON   StreamUsage: the same events as batch 1 of a stream; prints its ack
//   invoices --organization ID
//                            ListInvoices (every page), then GetInvoice of each; prints
//                            {"invoices": [...]} as GetInvoice returned them
//
// An event's `timestamp` is RFC 3339: a date, a time, up to 9 decimals of the second and an
// offset (`2026-01-15T09:00:00Z`, `2026-01-15T10:00:00.123456789+01:00`). A time without an
// offset is refused (JavaScript would read it in this machine's time zone). It must lie on the
// server's clock: not more than 5 minutes ahead of it (a test clock's time, not this machine's),
// in a subscription's open period. The key needs the usage_emitter role for `record` and `stream`
// and billing_viewer for `invoices` (one user may hold both).
//
// Answers keep the .proto's snake_case field names; int64 values are decimal strings (money in
// minor units is exact), enums are their names, and a timestamp is {"seconds": "<decimal
// string>", "nanos": <number>}. Exit status: 0 answered, 1 the server refused (its status code
// name and message on stderr), 2 bad arguments.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { parseArgs } from "node:util";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const PROTOS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../protos");

function loadServices() {
  const definition = protoLoader.loadSync(
    ["billing/v1/usage.proto", "billing/v1/billing.proto"],
    { includeDirs: [PROTOS], keepCase: true, longs: String, enums: String, defaults: true },
  );
  return grpc.loadPackageDefinition(definition).billing.v1;
}

// A mistake in the command line (exit 2), as opposed to a refusal by the server (exit 1).
class UsageError extends Error {}

function credentials() {
  const key = process.env.BILLING_API_KEY;
  if (!key) {
    throw new UsageError("set BILLING_API_KEY to an API key (bgk_…)");
  }
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${key}`);
  return metadata;
}

// RFC 3339 with a mandatory offset; the fraction is kept to the nanosecond (Date keeps milliseconds).
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

function timestamp(text) {
  const parts = RFC3339.exec(String(text));
  const millis = parts === null ? Number.NaN : Date.parse(`${parts[1]}${parts[3].toUpperCase()}`);
  if (Number.isNaN(millis)) {
    throw new UsageError(`not an RFC 3339 time with an offset (e.g. 2026-01-15T09:00:00Z): ${text}`);
  }
  return { seconds: String(millis / 1000), nanos: Number((parts[2] ?? "").padEnd(9, "0")) };
}

function usageEvents(json) {
  return JSON.parse(json).map((event) => ({ ...event, timestamp: timestamp(event.timestamp) }));
}

function unary(client, method, request, metadata) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

async function record(v1, address, options, metadata) {
  const usage = new v1.UsageService(address, grpc.credentials.createInsecure());
  try {
    return await unary(usage, "RecordUsage", { events: usageEvents(options.events) }, metadata);
  } finally {
    usage.close();
  }
}

async function stream(v1, address, options, metadata) {
  const usage = new v1.UsageService(address, grpc.credentials.createInsecure());
  try {
    const call = usage.StreamUsage(metadata);
    const acks = [];
    const finished = new Promise((resolve, reject) => {
      call.on("data", (ack) => acks.push(ack));
      call.on("error", reject);
      call.on("end", resolve);
    });
    call.write({ batch_id: "1", events: usageEvents(options.events) });
    call.end(); // half-close: the server acks the batch, then ends the stream
    await finished;
    return { acks };
  } finally {
    usage.close();
  }
}

async function invoices(v1, address, options, metadata) {
  const client = new v1.InvoiceService(address, grpc.credentials.createInsecure());
  try {
    const found = [];
    let page_token = "";
    do {
      const page = await unary(client, "ListInvoices", { organization_id: options.organization, page_token }, metadata);
      for (const listed of page.invoices) {
        const got = await unary(client, "GetInvoice", { invoice_id: listed.invoice_id }, metadata);
        found.push(got.invoice);
      }
      page_token = page.next_page_token;
    } while (page_token);
    return { invoices: found };
  } finally {
    client.close();
  }
}

const COMMANDS = { record, stream, invoices };

// The comment at the top of this file, without the comment markers: the --help text.
function help() {
  const source = readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n");
  const header = source.slice(1, source.findIndex((line, n) => n > 0 && !line.startsWith("//")));
  return `${header.map((line) => line.replace(/^\/\/ ?/, "")).join("\n")}\n`;
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        address: { type: "string", default: "127.0.0.1:50051" },
        events: { type: "string" },
        organization: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError(error.message);
  }
  const { positionals, values } = parsed;
  if (values.help) {
    process.stdout.write(help());
    return;
  }
  const command = COMMANDS[positionals[0]];
  if (!command) {
    throw new UsageError(`usage: usage_and_invoice.mjs ${Object.keys(COMMANDS).join("|")} [options] (--help explains)`);
  }
  const answer = await command(loadServices(), values.address, values, credentials());
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

main().catch((error) => {
  if (error instanceof UsageError || error instanceof SyntaxError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  // A gRPC error carries its status code (a number) and details: print them for the caller.
  const code = typeof error.code === "number" ? `${grpc.status[error.code]}: ` : "";
  process.stderr.write(`${code}${error.details ?? error.message}\n`);
  process.exit(1);
});
