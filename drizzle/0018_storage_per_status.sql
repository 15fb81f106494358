CREATE TABLE `inbound_bodies` (
	`activity_id` integer PRIMARY KEY NOT NULL,
	`body` text NOT NULL,
	FOREIGN KEY (`activity_id`) REFERENCES `inbound_activities`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
DROP INDEX `inbound_activities_finished`;--> statement-breakpoint
INSERT INTO `inbound_bodies` (`activity_id`, `body`) SELECT `id`, `body` FROM `inbound_activities` WHERE `body` IS NOT NULL;--> statement-breakpoint
ALTER TABLE `inbound_activities` DROP COLUMN `body`;--> statement-breakpoint
DROP INDEX `statuses_reblog_of`;--> statement-breakpoint
DROP INDEX `statuses_in_reply_to`;--> statement-breakpoint
DROP INDEX `statuses_in_reply_to_uri`;--> statement-breakpoint
DROP INDEX `statuses_conversation`;--> statement-breakpoint
CREATE INDEX `statuses_reblog_of` ON `statuses` (`reblog_of_id`,`id`) WHERE "statuses"."reblog_of_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `statuses_in_reply_to` ON `statuses` (`in_reply_to_id`) WHERE "statuses"."in_reply_to_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `statuses_in_reply_to_uri` ON `statuses` (`in_reply_to_uri`) WHERE "statuses"."in_reply_to_uri" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `statuses_conversation` ON `statuses` (`conversation_uri`) WHERE "statuses"."conversation_uri" IS NOT NULL;