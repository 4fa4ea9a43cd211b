// Loaded without defer in <head>: lets the CSS hide what JavaScript will manage (the phone
// navigation drawer, inactive tab panels) before the first paint, and only then.
document.documentElement.classList.add("js");
