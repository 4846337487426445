// Observable Framework configuration. Everything the site loads comes from this origin: no CDN, no web fonts,
// no telemetry (see scripts/csp.mjs for the Content-Security-Policy the build adds).
export default {
  title: "BitNet Lab",
  root: "src",
  pages: [
    {name: "Overview", path: "/"},
    {name: "1 · Ternary weights", path: "/ternary"},
    {name: "2 · Activations & outliers", path: "/activations"},
    {name: "3 · Hadamard (H-BitLinear)", path: "/hadamard"},
    {name: "4 · Sparsity (a4.8)", path: "/sparsity"},
    {name: "5 · The forward pass", path: "/forward"},
    {name: "6 · Train your own", path: "/train"},
    {name: "7 · Memory, latency & energy", path: "/scaling"},
    {name: "Open a checkpoint", path: "/open"},
    {name: "Kernel lab (your GPU)", path: "/kernel-lab"},
    {name: "Glossary", path: "/glossary"},
    {name: "A 50-minute lesson", path: "/lesson"},
  ],
  pager: true,
  search: false,
  toc: true,
  // The default loads Google Fonts; the site uses system fonts instead.
  globalStylesheets: [],
  style: "style.css",
  head: `<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,">`,
  footer: "BitNet Lab — every number on these pages is computed live or cites its paper table.",
};
