#!/usr/bin/env node
// The CLI entry: loads the TypeScript sources through tsx, so the library needs no build step.
import {tsImport} from "tsx/esm/api";

const {main} = await tsImport("../src/cli/main.ts", import.meta.url);
const code = await main(process.argv.slice(2));
// Dawn (WebGPU in Node) keeps the event loop alive; exit explicitly once a command is done.
process.exit(code);
