/**
 * Presence authorization (RFC 6665 section 4.2.1.3, the policy of RFC 5025 reduced to allow lists): a
 * watcher may subscribe to a device when a rule lists both. With no rules at all every watcher may watch
 * every monitored device (the quick start from flags).
 */

/** One rule: these watchers may watch these devices. */
export interface PresenceRule {
  /** Digest user names or From URIs (`sip:alice@example.com`); `*` matches any run of characters. */
  watchers: readonly string[];
  /** Device identifiers, or `*` for every device. */
  devices: readonly string[] | '*';
}

interface CompiledRule {
  watchers: RegExp[];
  /** Undefined: every device. */
  devices: Set<string> | undefined;
}

function glob(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`, 'i');
}

/** Compiled presence rules. */
export class PresenceRules {
  private readonly rules: CompiledRule[];

  constructor(rules: readonly PresenceRule[]) {
    this.rules = rules.map((r) => ({
      watchers: r.watchers.map(glob),
      devices: r.devices === '*' ? undefined : new Set(r.devices),
    }));
  }

  /** No rules: any watcher may watch any device. */
  get open(): boolean {
    return this.rules.length === 0;
  }

  /**
   * May this watcher watch `device`? `identities` are the names it is known by: its digest user name (when
   * authenticated) and its From URI (`sip:user@host`).
   */
  allows(identities: readonly string[], device: string): boolean {
    if (this.open) return true;
    return this.rules.some((r) => (!r.devices || r.devices.has(device)) && r.watchers.some((w) => identities.some((id) => w.test(id))));
  }
}
