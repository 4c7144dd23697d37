// What every entry form shares.

/** The key of the visit being typed, kept in the case file (the visit form, Today). */
export const VISIT_DRAFT = "visit";

/** Enter in a one-line field never submits the form it is in (a half-typed visit saved
 *  by a habit of the keyboard): only the save button does. Put on the `<form>`'s
 *  `onkeydown`. */
function enterDoesNotSubmit(event: KeyboardEvent) {
  const target = event.target;
  if (
    event.key === "Enter" &&
    target instanceof HTMLInputElement &&
    !["checkbox", "radio", "submit", "button", "reset", "file"].includes(target.type)
  ) {
    event.preventDefault();
  }
}

/** The action that puts [`enterDoesNotSubmit`] on a form: `<form use:noEnterSubmit>`. */
export function noEnterSubmit(form: HTMLFormElement) {
  form.addEventListener("keydown", enterDoesNotSubmit);
  return { destroy: () => form.removeEventListener("keydown", enterDoesNotSubmit) };
}
