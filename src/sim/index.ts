/** The PBX simulator: embeddable ({@link PbxSimulator}) and behind `switchhook sim`. */
export { PbxSimulator, type PbxSimulatorOptions, type PbxSimulatorAddresses } from './simulator.js';
export { SimSwitch, type SimEvent, type SimConnectionId, type PhoneView, type CallView as SimCallView, type SimSwitchOptions } from './core.js';
export { SimCstaServer, SimBringUp, type SimClientInfo, type SimCstaServerOptions } from './csta-server.js';
export { SimControlServer } from './control.js';
export { SimError } from './errors.js';
export { SimTraffic, seededRandom, type SimTrafficOptions } from './traffic.js';
export { SimDigitalLines, LineShow, type SimDigitalLinesOptions } from './digital-lines.js';
export { SimDigitalPhone, type SimDigitalPhoneOptions, type SimDigitalPhoneState } from './digital-phone.js';
export { SimVoipGateway, GatewaySessionState, type SimVoipGatewayOptions } from './voip-gateway.js';
export { RtpStream, patternPayload, type RtpStreamOptions, type RtpStreamStats } from './rtp-stream.js';
