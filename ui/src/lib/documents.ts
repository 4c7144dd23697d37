// Documents and photos of a person's file: what the forms share (reading a chosen file,
// the categories and their labels, the sizes the case file takes).
import { fieldOf } from "./app.svelte";
import { choiceLabel } from "./i18n.svelte";

/** The largest document kept (casefile's MAX_BLOB_BYTES): a PDF, or a photo kept as given. */
export const MAX_KEPT_BYTES = 20 * 1024 * 1024;
/** The largest photo taken in to be reduced (casefile's MAX_INPUT_BYTES). */
export const MAX_PHOTO_BYTES = 64 * 1024 * 1024;

/** What the file inputs accept: photos and PDFs. */
export const ACCEPT = "image/*,application/pdf";

/** The categories of a document, as the schema lists them. */
export function categories(): string[] {
  const f = fieldOf("attachment", "category");
  return f?.ty.type === "choice" ? f.ty.values : ["identity", "cv", "france_travail", "payslip", "training", "housing", "health", "other"];
}

/** A category's label: "Pièce d'identité", "Fiche de paie"… */
export function categoryLabel(category: string): string {
  return choiceLabel("category", category);
}

/** The most a file of this kind may weigh, as given: a PDF or an original is kept as is. */
export function maxBytes(file: File, keepOriginal: boolean): number {
  return file.type === "application/pdf" || keepOriginal ? MAX_KEPT_BYTES : MAX_PHOTO_BYTES;
}

/** A chosen file as a `data:` URL (its bytes in base64 after the comma). */
export function readDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** The base64 of a `data:` URL, as the `attach` command takes it. */
export function base64Of(dataUrl: string): string {
  return dataUrl.slice(dataUrl.indexOf(",") + 1);
}
