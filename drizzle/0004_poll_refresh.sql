ALTER TABLE `polls` ADD `refresh_due_at` integer;--> statement-breakpoint
CREATE INDEX `polls_refresh_due` ON `polls` (`refresh_due_at`);