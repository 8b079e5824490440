// A form's refusals, shown by a script the way the server shows them on its own forms: the message
// under each field (marked aria-invalid) and a focused summary at the top linking to each field.
// The key "_" is a refusal of the whole form: in the summary, with no link.
"use strict";

window.FormErrors = {
  show(summary, fields, errors) {
    for (const field of fields) {
      const message = document.getElementById(`${field.id}-error`);
      const text = errors[field.id];
      message.hidden = !text;
      message.textContent = text || "";
      field.closest(".field").classList.toggle("field-error", Boolean(text));
      if (text) field.setAttribute("aria-invalid", "true");
      else field.removeAttribute("aria-invalid");
    }
    summary.querySelector("ul").replaceChildren(...Object.entries(errors).map(([id, text]) => {
      const item = document.createElement("li");
      if (id === "_") {
        item.textContent = text;
      } else {
        const link = document.createElement("a");
        link.href = `#${id}`;
        link.textContent = text;
        item.append(link);
      }
      return item;
    }));
    summary.hidden = Object.keys(errors).length === 0;
    if (!summary.hidden) summary.focus();
  },
};
