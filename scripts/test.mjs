// `npm test`: strict typecheck, then the three test layers in order (unit → GPU on SwiftShader → build + e2e in
// Chromium), stopping at the first red layer. Ends with one summary line, "tests: N passed, N failed".
import {spawnSync} from "node:child_process";
import {existsSync, mkdirSync, readFileSync} from "node:fs";

const env = {
  ...process.env,
  OBSERVABLE_TELEMETRY_DISABLE: "true",
  FORCE_COLOR: process.env.CI ? "0" : process.env.FORCE_COLOR,
};
const only = process.argv.slice(2); // e.g. `npm test -- unit gpu`
const want = (name) => only.length === 0 || only.includes(name);
mkdirSync("test-results", {recursive: true});
let passed = 0,
  failed = 0,
  skipped = 0;

function run(label, cmd, args) {
  console.log(`\n▶ ${label}: ${cmd} ${args.join(" ")}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, {stdio: "inherit", env});
  console.log(
    `◀ ${label}: ${r.status === 0 ? "ok" : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  return r.status === 0;
}

function vitest(project) {
  const out = `test-results/${project}.json`;
  const ok = run(project, "npx", [
    "vitest",
    "run",
    "--project",
    project,
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${out}`,
  ]);
  if (existsSync(out)) {
    const r = JSON.parse(readFileSync(out, "utf8"));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  } else if (!ok) failed++;
  return ok;
}

let ok = true;
if (ok && want("typecheck")) ok = run("typecheck", "npx", ["tsc", "-p", "tsconfig.json"]) || (failed++, false);
if (ok && want("unit")) ok = vitest("unit");
if (ok && want("gpu")) ok = vitest("gpu");
if (ok && want("e2e")) ok = (run("build", "npm", ["run", "build"]) || (failed++, false)) && vitest("e2e");
console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(ok && failed === 0 ? 0 : 1);
