// The yardstick side of bench/bench_asl_map.py: runs the same state machine definition with
// aws-local-stepfunctions and prints the wall and CPU seconds of each timed run as JSON.
//   echo '{"definition": {...}, "size": 10000, "repeat": 3, "task_states": ["First"]}' | node map_bench.mjs
// Task states named in task_states run a local handler instead of calling Lambda (the same
// trivial function the Python side registers); one untimed run at 100 items warms the JIT.
import { readFileSync } from "node:fs";
import { StateMachine } from "aws-local-stepfunctions";

// The package asks for Node >= 22; on older Node its Task state lacks Promise.withResolvers
// (Node 22's own), so the standard polyfill stands in for it there.
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new this((yes, no) => { resolve = yes; reject = no; });
  return { promise, resolve, reject };
};

const request = JSON.parse(readFileSync(0, "utf8"));
const bump = (event) => ({ id: event.id, n: (event.n ?? 0) + 1 });
const handlers = Object.fromEntries((request.task_states ?? []).map((name) => [name, bump]));
const machine = new StateMachine(request.definition, { validationOptions: { checkArn: false } });

async function runOnce(size) {
  const items = Array.from({ length: size }, (_, index) => ({ id: index }));
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const output = await machine.run({ items }, { overrides: { taskResourceLocalHandlers: handlers } }).result;
  const used = process.cpuUsage(cpu);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (!Array.isArray(output) || output.length !== size) {
    throw new Error(`unexpected output: ${JSON.stringify(output).slice(0, 200)}`);
  }
  return [seconds, (used.user + used.system) / 1e6];
}

await runOnce(100);
const seconds = [];
const cpuSeconds = [];
for (let round = 0; round < request.repeat; round++) {
  const [wall, cpu] = await runOnce(request.size);
  seconds.push(wall);
  cpuSeconds.push(cpu);
}
const manifest = new URL("./node_modules/aws-local-stepfunctions/package.json", import.meta.url);
const { version } = JSON.parse(readFileSync(manifest, "utf8"));
process.stdout.write(JSON.stringify({ version, node: process.version, seconds, cpu_seconds: cpuSeconds }) + "\n");
