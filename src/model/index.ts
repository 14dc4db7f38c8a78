/** The model: devices, their calls and hook states, and the change events presence, calls and routing use. */
export { PbxModel, type PbxModelOptions, type DeviceChangeListener } from './pbx-model.js';
export { DeviceMachine } from './device.js';
export { bindLinkToModel } from './bind.js';
export { HookState, CallDirection, type CallView, type CallChange, type ChangeReason, type DeviceChange, type DeviceSnapshot } from './types.js';
