// Number formatting for the page's labels. Counts are grouped by thousands with a comma ("52,138")
// by hand: the first Number.toLocaleString call in a page loads the Intl locale data, ~20 ms of
// main-thread time measured on this page's cold start, before the first activation heatmap.

/** A non-negative integer with its thousands separated by commas, as toLocaleString("en"). */
export function groupThousands(count) {
  return String(count).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
