/**
 * The embeddable PBX simulator: a {@link SimSwitch} core, its CSTA XML server and its HTTP control API.
 * Tests start it on port 0; `switchhook sim` runs it from the command line.
 */
import type { AddressInfo } from 'node:net';
import type { TlsOptions } from 'node:tls';

import { CstaEdition } from '../cti/editions.js';
import { MetricsRegistry } from '../util/metrics.js';
import { SimSwitch } from './core.js';
import { SimBringUp, SimCstaServer } from './csta-server.js';
import { SimControlServer } from './control.js';

/** Options of {@link PbxSimulator.start}. */
export interface PbxSimulatorOptions {
  /** CSTA XML port (0: any free port). */
  readonly cstaPort: number;
  /** HTTP control port (0: any free port; undefined: no control API). */
  readonly controlPort?: number;
  /** Extensions of the simulated phones. */
  readonly extensions: readonly string[];
  /** Listen address; loopback by default. */
  readonly host?: string;
  /** Namespace edition of what the switch sends. */
  readonly edition?: CstaEdition;
  /** Interval of the switch's SystemStatus to each client (ms). */
  readonly systemStatusIntervalMs?: number;
  readonly bringUp?: SimBringUp;
  readonly maxSessionSeconds?: number;
  /** Most CTI applications registered at once. */
  readonly maxApplications?: number;
  readonly noAnswerMs?: number;
  readonly metrics?: MetricsRegistry;
  /** Serve CSTA over TLS (key and certificate). */
  readonly tls?: TlsOptions;
}

/** Where a started simulator listens. */
export interface PbxSimulatorAddresses {
  readonly csta: AddressInfo;
  readonly control?: AddressInfo;
}

/** A PBX that speaks CSTA XML, for tests, the demo and recording captures. */
export class PbxSimulator {
  private sw: SimSwitch | undefined;
  private cstaServer: SimCstaServer | undefined;
  private controlServer: SimControlServer | undefined;
  private addresses: PbxSimulatorAddresses | undefined;

  /** The device and call core (tests drive phones through it directly). */
  get core(): SimSwitch {
    if (!this.sw) throw new Error('simulator not started');
    return this.sw;
  }

  /** The CSTA server (link drops, raw bytes, paused responses). */
  get csta(): SimCstaServer {
    if (!this.cstaServer) throw new Error('simulator not started');
    return this.cstaServer;
  }

  /** Where it listens, once started. */
  get address(): PbxSimulatorAddresses {
    if (!this.addresses) throw new Error('simulator not started');
    return this.addresses;
  }

  /** Starts the core and its listeners. */
  async start(opts: PbxSimulatorOptions): Promise<PbxSimulatorAddresses> {
    if (this.sw) throw new Error('simulator already started');
    const metrics = opts.metrics ?? new MetricsRegistry();
    const host = opts.host ?? '127.0.0.1';
    this.sw = new SimSwitch(opts.noAnswerMs === undefined ? { extensions: opts.extensions } : { extensions: opts.extensions, noAnswerMs: opts.noAnswerMs });
    this.cstaServer = new SimCstaServer(this.sw, {
      edition: opts.edition ?? CstaEdition.Ed4,
      systemStatusIntervalMs: opts.systemStatusIntervalMs ?? 30_000,
      bringUp: opts.bringUp ?? SimBringUp.Any,
      maxSessionSeconds: opts.maxSessionSeconds ?? 600,
      ...(opts.maxApplications === undefined ? {} : { maxApplications: opts.maxApplications }),
      metrics,
      ...(opts.tls ? { tls: opts.tls } : {}),
    });
    try {
      const csta = await this.cstaServer.listen(opts.cstaPort, host);
      let control: AddressInfo | undefined;
      if (opts.controlPort !== undefined) {
        this.controlServer = new SimControlServer(this.sw, this.cstaServer);
        control = await this.controlServer.listen(opts.controlPort, host);
      }
      this.addresses = control ? { csta, control } : { csta };
      return this.addresses;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stops everything it started. */
  async stop(): Promise<void> {
    await this.controlServer?.close();
    await this.cstaServer?.close();
    this.sw?.close();
    this.controlServer = undefined;
    this.cstaServer = undefined;
    this.sw = undefined;
    this.addresses = undefined;
  }
}
