// The app's state: what is open, which screen shows, and the schema of the kinds.
import { commands, type AppInfo, type KindSpecView, type FieldSpecView, type ReplicaView, type Value } from "./bindings";
import { t } from "./i18n.svelte";
import { call } from "./api";

export type Route =
  | { name: "today" }
  | { name: "sites" }
  | { name: "site"; id: string }
  | { name: "people" }
  | { name: "person"; id: string }
  | { name: "cv"; person: string }
  | { name: "household"; id: string }
  | { name: "visit"; siteId?: string; personId?: string }
  | { name: "conflicts" }
  | { name: "set_aside" }
  | { name: "settings" }
  | { name: "dashboard" }
  | { name: "duplicates"; of?: string }
  | { name: "merge"; a: string; b: string; back: Route }
  | { name: "form"; kind: string; id?: string; preset?: Record<string, Value>; back: Route };

/** Fields of a person that only a merge or a "not the same person" mark writes: no form
 *  or list of fields shows them. */
export const MERGE_FIELDS: ReadonlySet<string> = new Set(["merged_into", "merged_seen", "not_duplicates"]);

export const app = $state({
  info: null as AppInfo | null,
  unlocked: false,
  /** The first-run screen shows until the person leaves it, even once the file exists. */
  firstRun: false,
  /** Why the backend locked by itself, when it did: idle, or the machine went to sleep. */
  lockedBy: null as "idle" | "suspended" | null,
  /** The server said a coordinator disabled this device's user: the app locked. */
  lockedByDisabledAccount: false,
  /** A coordinator revoked this device: its case file was destroyed. */
  revokedAndDestroyed: false,
  route: { name: "today" } as Route,
  schema: [] as KindSpecView[],
  replicaId: "",
  conflictCount: 0,
  flash: "",
  /** The visit just saved: its sheet is offered beside the message that says so. */
  savedVisit: null as string | null,
  /** Persons a screen holds in a draft (the visit form's persons met): a sync that
   *  erases one of them closes the screen. */
  draftPersons: [] as string[],
  /** Where the person asked to go from a form with unsaved changes, while the dialog
   *  asks whether to leave it; `kept` says whether what was typed is kept as a draft,
   *  `from` what had the focus (it gets it back if the person stays). */
  leaving: null as { route: Route; kept: boolean; from: HTMLElement | null } | null,
});

/** What a form with unsaved changes answers before the screen changes (`guardLeaving`). */
export type LeaveGuard = {
  /** Whether something typed is not saved. */
  changed(): boolean;
  /** Whether what is typed is kept as a draft (not while an older draft is offered). */
  kept(): boolean;
  /** Writes the draft now (the last half second typed): the form goes. */
  keep(): Promise<unknown>;
  /** Drops the form's draft: the person leaves and wants nothing kept. */
  discard(): Promise<unknown>;
};

let leaveGuard: LeaveGuard | null = null;

/** A form asks before it is left with unsaved changes; answers what takes the guard off
 *  (for `onMount`'s return: the form went). A lock never asks: the draft keeps it. */
export function guardLeaving(guard: LeaveGuard): () => void {
  leaveGuard = guard;
  return () => {
    if (leaveGuard !== guard) return;
    leaveGuard = null;
    app.leaving = null;
  };
}

/** Shows `route`; from a form with unsaved changes, once the person said so (the
 *  leave dialog, see `leave`). */
export function go(route: Route) {
  if (leaveGuard?.changed()) {
    const from = typeof document === "undefined" ? null : (document.activeElement as HTMLElement | null);
    app.leaving = { route, kept: leaveGuard.kept(), from };
    return;
  }
  show(route);
}

/** Shows `route` without asking. */
function show(route: Route) {
  app.leaving = null;
  app.route = route;
  app.flash = "";
  app.savedVisit = null;
  window.scrollTo?.(0, 0);
}

/** The person leaves the form after all: its draft is written (or dropped, with
 *  `discard`) first, so the next form opened finds it as it was left. */
export async function leave(discard = false) {
  const leaving = app.leaving;
  if (!leaving) return;
  const guard = leaveGuard;
  await (discard ? guard?.discard() : guard?.keep())?.catch(() => {});
  // Unless the form closed meanwhile (a lock, an erasure): then it is no longer asked.
  if (app.leaving === leaving) show(leaving.route);
}

/** The person stays in the form. */
export function stay() {
  app.leaving = null;
}

/** Writes the draft of the form open now, if any: the case file is about to lock. */
export async function keepDraft() {
  await leaveGuard?.keep().catch(() => {});
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

/** Who wrote an entry, as a person reads it: this device, a device of the replica
 *  directory with its user, or the end of an unknown replica id. */
export function whoWrote(replica: string, directory: Partial<Record<string, ReplicaView>>): string {
  if (replica === app.replicaId) return t("conflicts.by_this_device");
  const known = directory[replica];
  if (known) return t("conflicts.by_device", { device: known.device_name, user: known.user });
  return t("conflicts.by_other_device", { id: replica.slice(-8) });
}

/** The records the screen of `route` shows or edits, or is about. */
function shownIds(route: Route): string[] {
  switch (route.name) {
    case "person":
      return [route.id];
    case "cv":
      return [route.person];
    case "visit":
      return route.personId ? [route.personId] : [];
    case "duplicates":
      return route.of ? [route.of] : [];
    case "merge":
      return [route.a, route.b];
    case "form": {
      const preset = route.preset ?? {};
      const about = [preset.person_id, ...(Array.isArray(preset.person_ids) ? preset.person_ids : [])];
      return [route.id, ...about].filter((id): id is string => typeof id === "string" && id !== "");
    }
    default:
      return [];
  }
}

/** After a sync: a screen or a form about a record the sync erased (a person, or what
 *  was theirs alone) closes, with its draft, and the people list says why. */
export async function closeIfErased() {
  const ids = [...new Set([...shownIds(app.route), ...app.draftPersons])];
  if (ids.length === 0) return;
  const held = await call(commands.records(ids)).catch(() => null);
  if (!held) return;
  const still = new Set(held.map((r) => r.id));
  if (ids.every((id) => still.has(id))) return;
  app.draftPersons = [];
  // Without asking: what was typed about them goes with them, a draft write already on
  // its way included (it would land after the erasure took the draft, and bring it back).
  await leaveGuard?.discard().catch(() => {});
  show({ name: "people" });
  flash(t("rights.closed_erased"));
}
