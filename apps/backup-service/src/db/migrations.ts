/** Versioned migrations, applied in name order by Kysely's Migrator at start-up. */
import type { ColumnDataType, ColumnDefinitionBuilder, Kysely, Migration, MigrationProvider } from 'kysely';
import type { DatabaseKind } from './tables.js';

/** An auto-numbered primary key: SQLite and PostgreSQL spell it differently. */
function idColumn(kind: DatabaseKind): [ColumnDataType, (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder] {
  return kind === 'postgres' ? ['serial', (column) => column.primaryKey()] : ['integer', (column) => column.primaryKey().autoIncrement()];
}

const initialSchema = (kind: DatabaseKind): Migration => ({
  async up(db: Kysely<unknown>) {
    const [idType, idDefinition] = idColumn(kind);
    await db.schema
      .createTable('services')
      .addColumn('id', idType, idDefinition)
      .addColumn('host', 'varchar(255)', (column) => column.notNull())
      .addColumn('binary', 'varchar(255)', (column) => column.notNull())
      .addColumn('topic', 'varchar(255)', (column) => column.notNull())
      .addColumn('availability_zone', 'varchar(255)', (column) => column.notNull())
      .addColumn('disabled', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('disabled_reason', 'varchar(255)')
      .addColumn('report_count', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('backend_state', 'varchar(32)', (column) => column.notNull())
      .addColumn('backend_state_reason', 'text')
      .addColumn('driver_name', 'varchar(255)', (column) => column.notNull())
      .addColumn('driver_package', 'varchar(255)', (column) => column.notNull())
      .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .addColumn('modified_at', 'varchar(32)')
      .addColumn('deleted', 'integer', (column) => column.notNull().defaultTo(0))
      .addUniqueConstraint('services_host_binary', ['host', 'binary'])
      .execute();

    await db.schema
      .createTable('volumes')
      .addColumn('id', 'varchar(36)', (column) => column.primaryKey())
      .addColumn('project_id', 'varchar(255)', (column) => column.notNull())
      .addColumn('user_id', 'varchar(255)', (column) => column.notNull())
      .addColumn('display_name', 'varchar(255)')
      .addColumn('display_description', 'varchar(255)')
      .addColumn('size', 'integer', (column) => column.notNull())
      .addColumn('status', 'varchar(32)', (column) => column.notNull())
      .addColumn('previous_status', 'varchar(32)')
      .addColumn('availability_zone', 'varchar(255)', (column) => column.notNull())
      .addColumn('attach_status', 'varchar(32)', (column) => column.notNull().defaultTo('detached'))
      .addColumn('bootable', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('path', 'text', (column) => column.notNull())
      .addColumn('metadata', 'text', (column) => column.notNull().defaultTo('{}'))
      .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .addColumn('deleted', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('deleted_at', 'varchar(32)')
      .execute();
    await db.schema.createIndex('volumes_project').on('volumes').columns(['project_id', 'deleted']).execute();

    await db.schema
      .createTable('backups')
      .addColumn('id', 'varchar(36)', (column) => column.primaryKey())
      .addColumn('project_id', 'varchar(255)', (column) => column.notNull())
      .addColumn('user_id', 'varchar(255)', (column) => column.notNull())
      .addColumn('volume_id', 'varchar(36)', (column) => column.notNull())
      .addColumn('host', 'varchar(255)')
      .addColumn('availability_zone', 'varchar(255)')
      .addColumn('container', 'varchar(255)')
      .addColumn('parent_id', 'varchar(36)')
      .addColumn('status', 'varchar(32)', (column) => column.notNull())
      .addColumn('fail_reason', 'text')
      .addColumn('size', 'integer', (column) => column.notNull())
      .addColumn('display_name', 'varchar(255)')
      .addColumn('display_description', 'varchar(255)')
      .addColumn('service_metadata', 'varchar(255)')
      .addColumn('service', 'varchar(255)')
      .addColumn('backend_name', 'varchar(255)')
      .addColumn('object_count', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('temp_volume_id', 'varchar(36)')
      .addColumn('temp_snapshot_id', 'varchar(36)')
      .addColumn('num_dependent_backups', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('snapshot_id', 'varchar(36)')
      .addColumn('data_timestamp', 'varchar(32)', (column) => column.notNull())
      .addColumn('restore_volume_id', 'varchar(36)')
      .addColumn('metadata', 'text', (column) => column.notNull().defaultTo('{}'))
      .addColumn('encryption_key_id', 'varchar(36)')
      .addColumn('scheduling_attempts', 'text', (column) => column.notNull().defaultTo('[]'))
      .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .addColumn('deleted', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('deleted_at', 'varchar(32)')
      .execute();
    await db.schema.createIndex('backups_host_status').on('backups').columns(['host', 'status']).execute();
    await db.schema.createIndex('backups_project').on('backups').columns(['project_id', 'deleted']).execute();
    await db.schema.createIndex('backups_parent').on('backups').columns(['parent_id']).execute();

    await db.schema
      .createTable('quotas')
      .addColumn('id', idType, idDefinition)
      .addColumn('project_id', 'varchar(255)', (column) => column.notNull())
      .addColumn('resource', 'varchar(255)', (column) => column.notNull())
      .addColumn('hard_limit', 'integer', (column) => column.notNull())
      .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .addUniqueConstraint('quotas_project_resource', ['project_id', 'resource'])
      .execute();
    await db.schema
      .createTable('quota_usages')
      .addColumn('id', idType, idDefinition)
      .addColumn('project_id', 'varchar(255)', (column) => column.notNull())
      .addColumn('resource', 'varchar(255)', (column) => column.notNull())
      .addColumn('in_use', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('reserved', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .addUniqueConstraint('quota_usages_project_resource', ['project_id', 'resource'])
      .execute();
  },
});

/** Several hosts: which process runs a backup's current operation (null: queued for its host). */
const backupWorker: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('backups').addColumn('worker', 'varchar(255)').execute();
    await db.schema.createIndex('backups_queue').on('backups').columns(['host', 'worker', 'status']).execute();
  },
};

export function migrationsFor(kind: DatabaseKind): Record<string, Migration> {
  return {
    '0001_initial_schema': initialSchema(kind),
    '0002_backup_worker': backupWorker,
  };
}

export function migrationProvider(kind: DatabaseKind): MigrationProvider {
  return { getMigrations: async () => migrationsFor(kind) };
}
