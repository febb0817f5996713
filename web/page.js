() => {
  // While the index is built the examples wait (class "waiting"): a click on one, or Enter on it, is dropped.
  document.addEventListener("click", (event) => {
    if (event.target.closest?.(".waiting")) { event.stopPropagation(); event.preventDefault(); }
  }, true);
  // A click on the marked photo chooses the smallest object box under it, as a click on its legend does:
  // the boxes (in the shown image's pixels, in legend order) come with each result in #box-map.
  document.addEventListener("click", (event) => {
    const found = document.getElementById("found");
    const map = document.querySelector("#box-map [data-boxes]");
    if (!found || !map || event.target.tagName !== "IMG" || !found.contains(event.target)) return;
    const img = event.target, rect = img.getBoundingClientRect();
    if (!img.naturalWidth) return;
    const scale = Math.min(rect.width / img.naturalWidth, rect.height / img.naturalHeight);
    const x = (event.clientX - rect.left - (rect.width - img.naturalWidth * scale) / 2) / scale;
    const y = (event.clientY - rect.top - (rect.height - img.naturalHeight * scale) / 2) / scale;
    let chosen = -1, least = Infinity;
    JSON.parse(map.dataset.boxes).forEach(([x1, y1, x2, y2], i) => {
      const area = (x2 - x1) * (y2 - y1);
      if (x >= x1 && x <= x2 && y >= y1 && y <= y2 && area < least) { chosen = i; least = area; }
    });
    const items = found.querySelectorAll(".legend-item");
    if (chosen >= 0 && items[chosen]) items[chosen].click();
  });
}
