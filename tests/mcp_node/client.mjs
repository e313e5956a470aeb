// An MCP client that is not ours: the protocol's TypeScript SDK. It reads a plan as JSON on
// stdin ({"command", "args", "env"} for stdio or {"url", "token"} for Streamable HTTP, and
// "calls": [{"name", "arguments"}]), lists the tools, makes the calls in order and prints
// {"tools": [...], "results": [...]} as JSON. The SDK validates each structured result
// against the tool's output schema, as it does for any server.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const plan = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const transport = plan.url
  ? new StreamableHTTPClientTransport(new URL(plan.url), {
      requestInit: { headers: { Authorization: `Bearer ${plan.token}` } },
    })
  : new StdioClientTransport({ command: plan.command, args: plan.args, env: plan.env, stderr: "pipe" });

const client = new Client({ name: "node-peer", version: "1.0.0" });
await client.connect(transport);
const { tools } = await client.listTools();
const results = [];
for (const call of plan.calls ?? []) {
  try {
    results.push(await client.callTool({ name: call.name, arguments: call.arguments }));
  } catch (error) {
    results.push({ thrown: String(error && error.message ? error.message : error) });
  }
}
await client.close();
process.stdout.write(JSON.stringify({ tools, results }));
