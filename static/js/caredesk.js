// CareDesk: small progressive enhancements. Pages work without this file.
document.addEventListener("click", function (event) {
  const toggle = event.target.closest("[data-toggle=nav]");
  if (!toggle) return;
  const nav = document.getElementById(toggle.getAttribute("aria-controls"));
  const open = nav.classList.toggle("open");
  toggle.setAttribute("aria-expanded", open ? "true" : "false");
});
