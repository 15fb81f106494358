import { EventEmitter } from "node:events";

/**
 * Domain events the core emits after a change is committed. Side effects that are not part of the change
 * itself (waking the delivery workers, streaming, Web Push) subscribe here, so use cases never know them.
 */
export interface DomainEvents {
  "delivery.queued": [];
  "status.created": [statusId: string];
  "status.updated": [statusId: string];
  "status.deleted": [statusId: string];
  "notification.created": [notificationId: string];
}

export class Events extends EventEmitter<DomainEvents> {}
