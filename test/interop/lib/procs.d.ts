// Types for procs.js (plain JavaScript, shared with the shell-driven pack, bench and e2e scripts).
import type { ChildProcess } from 'child_process';

export interface ProcessHandle {
  readonly child: ChildProcess;
  readonly name: string;
  readonly pid: number | undefined;
  readonly output: string;
  readonly exited: { code: number | null; signal: NodeJS.Signals | null } | null;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpExecArray>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  name?: string;
  echo?: boolean;
  killAfterMs?: number;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  raw: Buffer;
}

export function freePort(): Promise<number>;
export function waitForPort(port: number, host?: string, timeoutMs?: number): Promise<void>;
export function startProcess(command: string, args: string[], options?: StartOptions): ProcessHandle;
export function httpRequest(url: string, options?: { method?: string; headers?: Record<string, string>; body?: unknown }): Promise<HttpResult>;
export function sleep(ms: number): Promise<void>;
