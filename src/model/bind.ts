import type { CtiLink } from '../cti/index.js';
import type { PbxModel } from './pbx-model.js';

/**
 * Feeds a link's events into a model: link loss sets every device `unknown`, each device's snapshot after
 * (re)monitoring resyncs it, and each event goes to the device whose monitor reported it. Returns the
 * function that unbinds.
 */
export function bindLinkToModel(link: CtiLink, model: PbxModel): () => void {
  for (const d of link.monitoredDevices) model.addDevice(d);
  const onEvent: Parameters<typeof link.on<'event'>>[1] = (device, ev) => void model.apply(device, ev);
  const onSnapshot: Parameters<typeof link.on<'snapshot'>>[1] = (device, calls) => {
    model.addDevice(device);
    model.resync(device, calls);
  };
  const onDown = (): void => model.linkLost();
  link.on('event', onEvent);
  link.on('snapshot', onSnapshot);
  link.on('down', onDown);
  return () => {
    link.off('event', onEvent);
    link.off('snapshot', onSnapshot);
    link.off('down', onDown);
  };
}
