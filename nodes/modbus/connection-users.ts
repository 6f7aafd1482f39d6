/**
 * The users of one Modbus connection config node (Node-RED core's pattern, STYLE.md): read and
 * write nodes register when they start and deregister when they close; the session opens with the
 * first user and closes with the last, so a connection nobody uses holds no socket or serial port.
 * No node-red import: the config node wraps this.
 */
import type { ModbusSession, PlanLimits } from './types';

/** A session as the nodes use it: the contract of types.ts plus open/close. */
export type OpenableSession = ModbusSession & { open?(): void };

export class ConnectionUsers<S extends OpenableSession = OpenableSession> {
  private readonly users = new Set<object>();
  private current?: S;

  constructor(private readonly openSession: () => S) {}

  /** Adds a user; the first one opens the session. Returns the session to use. */
  register(user: object): S {
    this.users.add(user);
    if (!this.current) this.current = this.openSession();
    return this.current;
  }

  /**
   * Removes a user; when it was the last, closes the session and resolves once it is closed (a
   * redeploy then starts the new nodes on a released socket or serial port).
   */
  async deregister(user: object): Promise<void> {
    this.users.delete(user);
    if (this.users.size > 0 || !this.current) return;
    const s = this.current;
    this.current = undefined;
    await s.close();
  }

  /** The config node itself closes: drop every user and close the session. */
  async closeAll(): Promise<void> {
    this.users.clear();
    const s = this.current;
    this.current = undefined;
    if (s) await s.close();
  }

  get count(): number {
    return this.users.size;
  }

  get session(): S | undefined {
    return this.current;
  }
}

/** What a read or write node sees of its connection config node. */
export interface ModbusConnectionApi<S extends OpenableSession = OpenableSession> {
  /** Why the connection's settings cannot work, when they cannot. */
  readonly configError?: string;
  readonly limits: PlanLimits;
  readonly transport: 'tcp' | 'rtu';
  /** Where it connects, for messages ("192.168.0.10:502", "/dev/ttyUSB0"). */
  readonly endpoint: string;
  register(user: object): S;
  deregister(user: object, done: () => void): void;
  readonly users: number;
}

/** The connection API of a config node found by id (undefined: missing, or not a Modbus connection). */
export function connectionApi(node: unknown): ModbusConnectionApi<import('./session').ModbusClientSession> | undefined {
  const api = (node as { modbus?: unknown } | null | undefined)?.modbus;
  return api && typeof api === 'object' ? (api as ModbusConnectionApi<import('./session').ModbusClientSession>) : undefined;
}
