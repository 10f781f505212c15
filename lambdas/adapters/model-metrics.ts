import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ModelCallRecord } from '../agents/assistant/assistant-agent.js';
import { SERVICE_NAME } from '../config/logger.js';

/** The CloudWatch namespace of the product's own metrics. */
export const METRICS_NAMESPACE = 'AgentJobs';

let metrics: Metrics | undefined;

/** Made on first use: Powertools reads its switches (POWERTOOLS_METRICS_DISABLED) from the environment then. */
const emitter = () =>
  (metrics ??= new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME || SERVICE_NAME,
  }));

/**
 * One EMF record per answered model call, by model and tenant, so operators see token spend in
 * CloudWatch without a metrics API call on the step's path (the record is a log line).
 */
export function recordModelCall({ tenant, model, usage }: ModelCallRecord): void {
  const m = emitter();
  m.addDimensions({ model, tenant });
  m.addMetric('ModelCalls', MetricUnit.Count, 1);
  m.addMetric('InputTokens', MetricUnit.Count, usage.inputTokens);
  m.addMetric('OutputTokens', MetricUnit.Count, usage.outputTokens);
  m.publishStoredMetrics();
}
