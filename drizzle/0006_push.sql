ALTER TABLE `push_subscriptions` ADD `access_token` text;--> statement-breakpoint
ALTER TABLE `push_subscriptions` ADD `standard` integer DEFAULT false NOT NULL;