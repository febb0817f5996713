() => {
  // After a search, what was found comes into view: the marked photo with the products under it on a wide
  // screen; on a phone, where the marked photo fills the screen, the products themselves.
  // The products' tabs are drawn a moment after the event ends; until then the page may be too short to scroll.
  const narrow = window.matchMedia("(max-width: 640px)").matches;
  const show = () => document.getElementById(narrow ? "status" : "found")?.scrollIntoView({block: "start"});
  requestAnimationFrame(() => setTimeout(show, 100));
}
