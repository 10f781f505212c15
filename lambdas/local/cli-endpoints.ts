import type { TenantLimits } from '../domain/tenant-limits.js';

/** What `npm start` writes to its data dir for the operator CLI (`agent-jobs dlq ... --local`). */
export interface LocalEndpointsFile {
  tableName: string;
  jobDlqUrl: string;
  startDlqUrl: string;
  endpoints: { dynamodb: string; sqs: string };
  region: string;
  /** The limits of tenants without their own, as the local stack runs with them. */
  defaultLimits?: TenantLimits;
}

export const LOCAL_ENDPOINTS_FILE = 'endpoints.json';
