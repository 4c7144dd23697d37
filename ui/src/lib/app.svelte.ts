// The app's state: what is open, which screen shows, and the schema of the kinds.
import { commands, type AppInfo, type KindSpecView, type FieldSpecView, type Value } from "./bindings";

export type Route =
  | { name: "today" }
  | { name: "sites" }
  | { name: "site"; id: string }
  | { name: "people" }
  | { name: "person"; id: string }
  | { name: "household"; id: string }
  | { name: "visit"; siteId?: string; personId?: string }
  | { name: "conflicts" }
  | { name: "set_aside" }
  | { name: "settings" }
  | { name: "dashboard" }
  | { name: "form"; kind: string; id?: string; preset?: Record<string, Value>; back: Route };

export const app = $state({
  info: null as AppInfo | null,
  unlocked: false,
  /** The first-run screen shows until the person leaves it, even once the file exists. */
  firstRun: false,
  lockedByIdle: false,
  /** The server said a coordinator disabled this device's user: the app locked. */
  lockedByDisabledAccount: false,
  /** A coordinator revoked this device: its case file was destroyed. */
  revokedAndDestroyed: false,
  route: { name: "today" } as Route,
  schema: [] as KindSpecView[],
  replicaId: "",
  conflictCount: 0,
  flash: "",
});

export function go(route: Route) {
  app.route = route;
  app.flash = "";
  window.scrollTo?.(0, 0);
}

export function flash(message: string) {
  app.flash = message;
}

export async function loadSchema() {
  if (app.schema.length === 0) app.schema = await commands.schema();
}

/** The fields of `kind`, in reading order. */
export function fieldsOf(kind: string): FieldSpecView[] {
  return app.schema.find((k) => k.kind === kind)?.fields ?? [];
}

/** The spec of one field of `kind`. */
export function fieldOf(kind: string, name: string): FieldSpecView | undefined {
  return fieldsOf(kind).find((f) => f.name === name);
}
