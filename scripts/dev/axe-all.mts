// Dev aid: axe-core over the whole document (sidebar included) of each built page.
import {readFileSync} from "node:fs";
import {createRequire} from "node:module";
import {launch} from "../../test/e2e/browser.js";
import {serve} from "../../test/e2e/server.js";
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const site = await serve("dist");
const b = await launch({webgpu: false});
for (const path of process.argv.slice(2).length ? process.argv.slice(2) : ["/"]) {
  const p = await b.newPage();
  await p.goto(site.url + path, {waitUntil: "networkidle"});
  await p.route("**/__axe.min.js", (r) => r.fulfill({contentType: "text/javascript", body: AXE}));
  await p.addScriptTag({url: `${site.url}/__axe.min.js`});
  const r = await p.evaluate(async () => (window as any).axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}));
  for (const v of r.violations) console.log(path, v.impact, v.id, v.nodes.slice(0, 4).map((n: any) => n.target.join(" ")).join(" | "));
  await p.close();
}
await b.close(); await site.close();
