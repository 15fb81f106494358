CREATE INDEX `list_feed_status` ON `list_feed` (`status_id`);--> statement-breakpoint
CREATE INDEX `notifications_status` ON `notifications` (`status_id`);