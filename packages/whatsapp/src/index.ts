export { verifySignature, signBody, hmacSha256 } from './verify-signature.ts';

export {
  webhookEnvelopeSchema,
  webhookMessageSchema,
  webhookMessageCoreSchema,
  webhookStatusSchema,
  webhookStatusCoreSchema,
  webhookContactSchema,
  webhookMetadataSchema,
  messagesValueSchema,
  metaErrorSchema,
  type MetaError,
  type WebhookContext,
  type WebhookMessage,
  type WebhookStatus,
  type WebhookContact,
  type WebhookMetadata,
  type MessagesValue,
  type WebhookEnvelope,
} from './webhook-schema.ts';

export {
  parseWebhook,
  parseWebhookLean,
  countItems,
  isBusinessScopedUserId,
  type ParseWebhookResult,
  type WebhookItem,
  type WebhookMessageItem,
  type WebhookStatusItem,
  type WebhookLeanItem,
  type WebhookLeanMessageItem,
  type WebhookLeanStatusItem,
} from './parse-webhook.ts';

export {
  createGraphClient,
  type GraphClient,
  type GraphClientOptions,
  type SendMessageResult,
  type DebugTokenResult,
  type MediaUrlResult,
  type DownloadMediaOptions,
} from './graph-client.ts';

export { GraphApiError, isRetryable, type GraphApiErrorInit } from './graph-api-error.ts';

export {
  classifyGraphError,
  describeGraphError,
  httpStatusErrorCode,
  GRAPH_ERROR_CODES,
  GRAPH_TIMEOUT_CODE,
  GRAPH_NETWORK_CODE,
  GRAPH_INVALID_RESPONSE_CODE,
  GRAPH_REFUSED_REQUEST_CODE,
  type GraphErrorPolicy,
  type GraphErrorCodeInfo,
} from './error-policy.ts';

export {
  textMessage,
  imageMessage,
  interactiveListMessage,
  interactiveButtonsMessage,
  templateMessage,
  reactionMessage,
  addressee,
  LIMITS,
  type Addressee,
  type OutboundMessagePayload,
  type TextPayload,
  type ImagePayload,
  type ListPayload,
  type ButtonsPayload,
  type TemplatePayload,
  type ReactionPayload,
  type ReplyOptions,
  type ListMessageInput,
  type ListSectionInput,
  type ListRowInput,
  type ButtonsMessageInput,
} from './message-builders.ts';

export { truncateText, codePointLength, ELLIPSIS } from './text-limits.ts';
export { toMetaJson } from './meta-json.ts';

export {
  buildTextWebhook,
  buildStatusWebhook,
  buildWebhookObject,
  type TextWebhookInput,
  type StatusWebhookInput,
  type WebhookValueInput,
} from './test-payloads.ts';
