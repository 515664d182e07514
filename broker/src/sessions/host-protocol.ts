/**
 * The broker ↔ session host protocol: one compact JSON object per line (UTF-8, `\n`), broker → host on the
 * host's stdin, host → broker on its stdout. One session host process serves one session, so a FullLanguage
 * caller who writes to the host's stdout can only confuse its own session. The host exits when its stdin
 * closes, so a broker that dies takes its session hosts with it.
 */
import type { SessionCommand } from '../policy/schema.js';
import type { InvocationState, SessionLanguageMode, SessionStream } from '../../../typings/session.js';

/** What the runspace is built from: the profile's `sessions` grant as the host needs it. */
export interface SessionHostConfig {
  languageMode: SessionLanguageMode;
  /** As in the policy: names, `'*'`, or `{ name, parameters }`. */
  commands: SessionCommand[];
  modules: string[];
  providers: string[];
  /** Absolute paths of external programs the session may run. */
  programs: string[];
  /** An output object or record whose CliXml is longer than this is replaced by an error record `WinsHost.OutputTooLarge`. */
  maxObjectBytes: number;
  /** Windows: open the runspace in this container through PowerShell Direct instead of locally. */
  containerId?: string;
}

export type HostRequest =
  | { type: 'open'; config: SessionHostConfig }
  | {
      type: 'invoke';
      id: string;
      script: string;
      /** CliXml of an array, or null. */
      arguments: string | null;
      /** CliXml of an array piped in as `$input`, or null. */
      input: string | null;
      /** CliXml of a hashtable: the values of the script's `$using:` references by variable name, or null. */
      using: string | null;
      depth: number;
    }
  /** Stop the running pipeline (`PowerShell.Stop`); answered by its `done` with state `Stopped`. */
  | { type: 'stop'; id: string }
  /** Dispose the runspace and exit. */
  | { type: 'close' };

export type HostEvent =
  /** Sent once PowerShell has started and the host's code is compiled and warmed up. */
  | { type: 'ready'; psVersion: string; edition: 'Core' | 'Desktop'; pid: number }
  | { type: 'opened'; languageMode: SessionLanguageMode; location: string | null }
  /** The runspace could not be built from the config; `reason` is stable (`CommandNotFound`, `ModuleNotFound`, `ProviderNotFound`, `ContainerUnreachable`, `InvalidConfig`). */
  | { type: 'openFailed'; reason: string; message: string }
  | { type: 'output'; id: string; stream: SessionStream; clixml: string }
  /** The invocation ended; `error` is the CliXml of the terminating ErrorRecord (parse errors included) when `Failed`. */
  | { type: 'done'; id: string; state: InvocationState; error: string | null; location: string | null }
  /** A request the host could not take (malformed, unknown type, invoke while busy); the host keeps running. */
  | { type: 'protocolError'; message: string; id?: string };
