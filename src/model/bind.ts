import type { CtiEventSource, CtiEventSourceEvents } from '../cti/index.js';
import type { PbxModel } from './pbx-model.js';

type Listener<K extends keyof CtiEventSourceEvents> = (...args: CtiEventSourceEvents[K]) => void;

/**
 * Feeds a CTI source's events (the CSTA link, or the TAPI/TSAPI adapter server) into a model: link loss
 * sets every device `unknown`, each device's snapshot after (re)monitoring resyncs it, and each event goes
 * to the device whose monitor reported it. Returns the function that unbinds.
 */
export function bindLinkToModel(source: CtiEventSource, model: PbxModel): () => void {
  for (const d of source.monitoredDevices) model.addDevice(d);
  const onEvent: Listener<'event'> = (device, ev) => void model.apply(device, ev);
  const onSnapshot: Listener<'snapshot'> = (device, calls) => {
    model.addDevice(device);
    model.resync(device, calls);
  };
  const onDown: Listener<'down'> = () => model.linkLost();
  source.on('event', onEvent);
  source.on('snapshot', onSnapshot);
  source.on('down', onDown);
  return () => {
    source.off('event', onEvent);
    source.off('snapshot', onSnapshot);
    source.off('down', onDown);
  };
}
