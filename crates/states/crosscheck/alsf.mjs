// Runs every case of cases.json through the npm package aws-local-stepfunctions and prints one
// JSON line per case: {"name", "output"} or {"name", "error", "cause"}.
// Usage: node alsf.mjs CASES.json  (with aws-local-stepfunctions resolvable, e.g. NODE_PATH)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// aws-local-stepfunctions 3 needs Node 22's Promise.withResolvers; Node 20 lacks it.
if (!Promise.withResolvers) {
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}

const require = createRequire(process.env.ALSF_DIR ? process.env.ALSF_DIR + '/' : import.meta.url);
const { StateMachine } = require('aws-local-stepfunctions');
const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
for (const c of cases) {
  try {
    const machine = new StateMachine(c.definition, { validationOptions: { checkPaths: false } });
    const execution = machine.run(c.input, { context: { Execution: { Input: c.input } } });
    const output = await execution.result;
    console.log(JSON.stringify({ name: c.name, output }));
  } catch (e) {
    console.log(JSON.stringify({ name: c.name, error: e.name ?? 'Error', cause: e.cause ?? e.message }));
  }
}
