CREATE INDEX `list_feed_status` ON `list_feed` (`status_id`);--> statement-breakpoint
CREATE INDEX `media_account` ON `media_attachments` (`account_id`);--> statement-breakpoint
CREATE INDEX `notifications_status` ON `notifications` (`status_id`);