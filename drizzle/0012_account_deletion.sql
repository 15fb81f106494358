CREATE TABLE `deleted_actors` (
	`uri` text PRIMARY KEY NOT NULL,
	`username` text NOT NULL,
	`deleted_at` integer NOT NULL
);
