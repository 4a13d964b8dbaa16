// Defines the <nnlens-*> elements in the browser only: custom elements do not exist during
// Docusaurus's server-side rendering, where the tags stay plain HTML until the page hydrates.
import ExecutionEnvironment from "@docusaurus/ExecutionEnvironment";

if (ExecutionEnvironment.canUseDOM) {
  import("nnlens/elements");
}
