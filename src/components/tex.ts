// KaTeX, bundled from node_modules (Framework's implicit `tex` would fetch it from a CDN).
import katex from "katex";

/** Tagged template: tex`\gamma = \frac{1}{nm}\sum |W_{ij}|` → an inline element; tex.block`…` → display math. */
export function tex(strings: TemplateStringsArray, ...values: unknown[]): HTMLElement {
  return render(String.raw(strings, ...values), false);
}
tex.block = (strings: TemplateStringsArray, ...values: unknown[]): HTMLElement =>
  render(String.raw(strings, ...values), true);

function render(source: string, displayMode: boolean): HTMLElement {
  const el = document.createElement(displayMode ? "div" : "span");
  katex.render(source, el, {displayMode, throwOnError: true, output: "htmlAndMathml"});
  return el;
}
