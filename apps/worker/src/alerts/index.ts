export { Alerter, alertsConfigFromEnv, type AlertsConfig, type RaiseResult } from './alerter.ts';
export { emailAlertChannel, type EmailChannelOptions } from './email-channel.ts';
export { logAlertChannel } from './log-channel.ts';
export { whatsappAlertChannel, type WhatsAppChannelOptions } from './whatsapp-channel.ts';
export type { Alert, AlertChannel, AlertRecipients, ChannelResult } from './types.ts';
