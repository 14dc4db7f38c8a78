/**
 * baresip as a headless softphone on loopback: registers to our registrar, answers every call at once
 * (`answermode=auto`), G.711 only, and echoes what it hears (`aubridge` joins its player to its source), so
 * RTP flows both ways without a sound card. Stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort, freeUdpPort } from './peers.js';

/** What a headless baresip on loopback loads and where it listens. */
export interface BaresipConfig {
  sipPort: number;
  /** The `ctrl_tcp` port (netstring JSON commands). */
  ctrlPort: number;
  /** Modules (`module X.so`) besides ctrl_tcp. */
  modules?: string[];
  /** Application modules (`module_app X.so`). */
  appModules: string[];
  /** Echo what it hears (aubridge) instead of having no audio device. */
  echo?: boolean;
  rtpPorts?: string;
}

/** Writes baresip's `config` for a headless run on 127.0.0.1 into `dir`. */
export function writeBaresipConfig(dir: string, c: BaresipConfig): void {
  const audio = c.echo ? 'aubridge,echo' : 'none';
  writeFileSync(join(dir, 'config'), [
    'poll_method epoll',
    `sip_listen 127.0.0.1:${c.sipPort}`,
    'net_interface 127.0.0.1',
    'net_prefer_ipv6 no',
    'module_path /usr/lib/baresip/modules',
    ...(c.modules ?? []).map((m) => `module ${m}.so`),
    'module ctrl_tcp.so',
    `ctrl_tcp_listen 127.0.0.1:${c.ctrlPort}`,
    ...c.appModules.map((m) => `module_app ${m}.so`),
    `audio_player ${audio}`,
    `audio_source ${audio}`,
    'audio_alert none',
    ...(c.rtpPorts ? [`rtp_ports ${c.rtpPorts}`] : []),
    '',
  ].join('\n'));
}

export class Baresip {
  private out = '';
  private constructor(private readonly child: ChildProcess, readonly sipPort: number) {
    child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
  }

  /** Starts baresip registering `user` at `registrarPort` (the caller waits for the binding). */
  static async start(user: string, registrarPort: number): Promise<Baresip> {
    const dir = mkdtempSync(join(tmpdir(), 'sh-baresip-'));
    const sipPort = await freeUdpPort();
    const ctrlPort = await freeTcpPort();
    writeBaresipConfig(dir, { sipPort, ctrlPort, modules: ['g711', 'aubridge'], appModules: ['account', 'menu'], echo: true, rtpPorts: '50000-50999' });
    writeFileSync(join(dir, 'accounts'), `<sip:${user}@127.0.0.1:${registrarPort}>;regint=600;pubint=0;answermode=auto;audio_codecs=PCMU,PCMA\n`);
    writeFileSync(join(dir, 'contacts'), '');
    const child = spawn('baresip', ['-f', dir, '-v'], { stdio: ['pipe', 'pipe', 'pipe'] });
    return new Baresip(child, sipPort);
  }

  /** What baresip printed so far. */
  get log(): string {
    return this.out;
  }

  async stop(): Promise<void> {
    if (this.child.pid === undefined || this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    process.kill(this.child.pid, 'SIGKILL');
    await exited;
  }
}
