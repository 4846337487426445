// The export panel of chapter 6 (train your own): download the checkpoint, keep it for the forward-pass page.
import type {Tokenizer} from "../lib/tokenizer.js";
import type {TrainRunView} from "../lib/chapters/train.js";
import {makeTrainedRecord, type TrainedRecord} from "../lib/chapters/train-record.js";
import {tailMean} from "../lib/chapters/train-series.js";
import {h} from "./dom.js";

export interface ExportOptions {
  getRun: () => TrainRunView;
  tokenizer: Tokenizer;
  /** Stores the record where the forward-pass page looks (IndexedDB). */
  save: (record: TrainedRecord) => Promise<void>;
  /** Where the forward-pass page is. */
  forwardHref: string;
}

/** "Download the checkpoint" (config.json, model.safetensors, tokenizer.json) and "Use on the forward-pass
 *  page". Both pause the training first; links are revoked when the panel is disposed. */
export function exportPanel(opts: ExportOptions): {element: HTMLElement; update(): void; dispose(): void} {
  const urls: string[] = [];
  const dl = h("button", {type: "button", class: "lab-button"}, "Download the b1.58 checkpoint");
  const use = h("button", {type: "button", class: "lab-button"}, "Use on the forward-pass page");
  const links = h("ul", {class: "download-links"});
  const status = h("p", {role: "status", "aria-live": "polite", class: "export-status"});
  const revoke = () => {
    for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  };

  async function record(): Promise<TrainedRecord> {
    const run = opts.getRun();
    const weights = await run.exportBitNet();
    const bl = run.points.map((p) => p.bitnetLoss);
    return makeTrainedRecord(weights, opts.tokenizer, {
      size: run.settings.size,
      steps: run.step,
      seed: run.settings.seed,
      lr: run.settings.lr,
      loss: tailMean(bl, 10),
      fpLoss: tailMean(
        run.points.map((p) => p.fpLoss),
        10,
      ),
      valLoss: run.evals.at(-1)?.bitnet ?? null,
      tokensSeen: run.tokensSeen,
      savedAt: new Date().toISOString(),
    });
  }

  const busy = async (btn: HTMLButtonElement, what: string, failed: string, fn: () => Promise<void>) => {
    btn.disabled = true;
    status.textContent = what;
    try {
      await fn();
    } catch (e) {
      status.textContent = `${failed}: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      update();
    }
  };

  dl.addEventListener("click", () =>
    busy(dl, "Exporting…", "Could not export", async () => {
      const rec = await record();
      revoke();
      const files: [string, BlobPart, string][] = [
        ["config.json", JSON.stringify(rec.config, null, 2), "application/json"],
        ["model.safetensors", rec.safetensors as Uint8Array<ArrayBuffer>, "application/octet-stream"],
        ["tokenizer.json", JSON.stringify(rec.tokenizer), "application/json"],
      ];
      links.replaceChildren(
        ...files.map(([name, data, type]) => {
          const blob = new Blob([data], {type});
          const url = URL.createObjectURL(blob);
          urls.push(url);
          return h(
            "li",
            {},
            h("a", {href: url, download: name}, name),
            ` (${blob.size.toLocaleString("en-US")} bytes)`,
          );
        }),
      );
      status.textContent = `Exported the b1.58 model after ${rec.meta.steps} steps. Put the three files in one folder: it is a Hugging Face checkpoint that \`npx bitnet-lab generate <folder>\` runs.`;
    }),
  );

  use.addEventListener("click", () =>
    busy(use, "Saving…", "Could not save in this browser", async () => {
      const rec = await record();
      await opts.save(rec);
      status.replaceChildren(
        `Saved in this browser (step ${rec.meta.steps}). `,
        h("a", {href: opts.forwardHref}, "Open the forward-pass page"),
        " to run it layer by layer.",
      );
    }),
  );

  function update(): void {
    const run = opts.getRun();
    const ok = run.step > 0 && run.state !== "disposed";
    dl.disabled = !ok;
    use.disabled = !ok;
    if (!ok && !status.textContent) status.textContent = "Train at least one step to export.";
    else if (ok && status.textContent === "Train at least one step to export.") status.textContent = "";
  }

  update();
  return {
    element: h("div", {class: "export-panel"}, h("div", {class: "train-buttons"}, dl, use), status, links),
    update,
    dispose: revoke,
  };
}
