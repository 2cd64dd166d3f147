#!/usr/bin/env node
// A billing-grpc client in Node.js: it loads the .proto files at run time with
// @grpc/proto-loader (no generated code), records usage and reads invoices with an API key,
// and prints each answer as one JSON document on stdout. It proves the API works from another
// language; tests/e2e/test_node_interop.py runs it against the real server.
//
//   BILLING_API_KEY=bgk_… node interop/node/usage_and_invoice.mjs <command> [options]
//
// Commands (every one takes --address HOST:PORT, default 127.0.0.1:50051):
//   record   --events JSON   RecordUsage: one batch; JSON is an array of usage events with
//                            snake_case fields and an ISO 8601 `timestamp`
//   stream   --events JSON   StreamUsage: the same events as batch 1 of a stream; prints its ack
//   invoices --organization ID
//                            ListInvoices (every page), then GetInvoice of each; prints
//                            {"invoices": [...]} as GetInvoice returned them
//
// Field names stay snake_case as in the .proto files, int64 values are decimal strings (money
// in minor units is exact), enums are their names, and timestamps are {seconds, nanos}.
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

function credentials() {
  const key = process.env.BILLING_API_KEY;
  if (!key) {
    throw new Error("set BILLING_API_KEY to an API key (bgk_…)");
  }
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${key}`);
  return metadata;
}

function timestamp(iso) {
  const millis = Date.parse(iso);
  if (Number.isNaN(millis)) {
    throw new Error(`not an ISO 8601 time: ${iso}`);
  }
  return { seconds: String(Math.floor(millis / 1000)), nanos: (millis % 1000) * 1e6 };
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

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      address: { type: "string", default: "127.0.0.1:50051" },
      events: { type: "string" },
      organization: { type: "string" },
    },
  });
  const command = COMMANDS[positionals[0]];
  if (!command) {
    throw new Error(`usage: usage_and_invoice.mjs ${Object.keys(COMMANDS).join("|")} [options]`);
  }
  const answer = await command(loadServices(), values.address, values, credentials());
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

main().catch((error) => {
  // A gRPC error carries its status code name and details: print them for the caller.
  const code = error.code === undefined ? "" : `${grpc.status[error.code]}: `;
  process.stderr.write(`${code}${error.details ?? error.message}\n`);
  process.exit(1);
});
