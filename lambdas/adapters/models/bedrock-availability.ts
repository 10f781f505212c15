import { BedrockClient, GetFoundationModelAvailabilityCommand } from '@aws-sdk/client-bedrock';
import { withoutSdkLogging } from '../sdk-clients.js';
import type { ModelAvailability } from './bedrock.js';

const control = withoutSdkLogging(new BedrockClient({ maxAttempts: 1 }));

/**
 * Whether this account may invoke a foundation model in this region, from Bedrock's control plane:
 * it costs no tokens. An agreement that is pending or failed makes the model unusable; one that is
 * not available is taken to mean none is needed, since not every model has an offer to accept.
 */
export const bedrockModelAvailability: ModelAvailability = async (modelId, signal) => {
  try {
    const availability = await control.send(new GetFoundationModelAvailabilityCommand({ modelId }), {
      abortSignal: signal,
    });
    const agreement = availability.agreementAvailability?.status;
    const problems = [
      availability.authorizationStatus !== 'AUTHORIZED' && 'not authorized',
      availability.entitlementAvailability !== 'AVAILABLE' && 'not entitled',
      availability.regionAvailability !== 'AVAILABLE' && 'not available in this region',
      (agreement === 'PENDING' || agreement === 'ERROR') && `agreement ${agreement.toLowerCase()}`,
    ].filter((p): p is string => typeof p === 'string');
    return problems.length === 0
      ? { ok: true }
      : { ok: false, reason: `the model ${modelId} is ${problems.join(', ')}` };
  } catch (error) {
    return { ok: false, reason: `model availability unknown (${(error as Error).name})` };
  }
};
