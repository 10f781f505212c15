import { Arn, ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config/env.js';
import { foundationModelId } from '../../lambdas/domain/model.js';
import type { ModelProviderConfig } from '../stack-config.js';

/** Inference profile ids start with a geography; they route calls to foundation models in several regions. */
const INFERENCE_PROFILE = /^(us|us-gov|eu|apac|jp|au|ca|global)\./;

/**
 * The model provider as the functions see it: the environment that names it and the permissions
 * to use it, granted per function by what it does with the model (configure, check, invoke). No
 * business logic: the handlers read the same variables through lambdas/config/model.ts.
 */
export class ModelAccess extends Construct {
  public readonly secret: secretsmanager.ISecret | undefined;
  private readonly environment: Record<string, string>;

  constructor(
    scope: Construct,
    id: string,
    private readonly provider: ModelProviderConfig | undefined,
  ) {
    super(scope, id);
    this.environment = provider ? environmentOf(provider) : {};
    this.secret =
      provider?.kind === 'openai' && provider.apiKeySecretArn
        ? secretsmanager.Secret.fromSecretCompleteArn(this, 'ApiKey', provider.apiKeySecretArn)
        : undefined;
  }

  /** Functions that only need to know whether a provider exists (submit, agent discovery). */
  bindConfig(fn: lambda.Function): void {
    for (const [name, value] of Object.entries(this.environment)) fn.addEnvironment(name, value);
  }

  /** The readiness function: asks the provider whether the default model is offered. */
  bindReadiness(fn: lambda.Function): void {
    this.bindConfig(fn);
    this.secret?.grantRead(fn);
    if (this.provider?.kind !== 'bedrock') return;
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['bedrock:GetFoundationModelAvailability'], resources: ['*'] }),
    );
    Validations.of(fn.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'bedrock:GetFoundationModelAvailability supports no resource-level permissions.',
    });
  }

  /** The agent step: streams model calls, on the configured models only. */
  bindInvoke(fn: lambda.Function): void {
    this.bindConfig(fn);
    this.secret?.grantRead(fn);
    if (this.provider?.kind !== 'bedrock') return;
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['bedrock:InvokeModelWithResponseStream'],
        resources: this.provider.modelIds.flatMap((modelId) => modelArns(fn, modelId)),
      }),
    );
    for (const profile of this.provider.modelIds.filter((m) => INFERENCE_PROFILE.test(m))) {
      Validations.of(fn.role!).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/${foundationModelId(profile)}]`,
        reason:
          'A cross-region inference profile routes to its foundation model in any of its regions: the ARN names the model and leaves only the region open.',
      });
    }
  }
}

function environmentOf(provider: ModelProviderConfig): Record<string, string> {
  if (provider.kind === 'bedrock') {
    return { [ENV.modelProvider]: 'bedrock', [ENV.model]: provider.modelIds[0]! };
  }
  return {
    [ENV.modelProvider]: 'openai',
    [ENV.openaiBaseUrl]: provider.baseUrl,
    [ENV.model]: provider.model,
    ...(provider.apiKeySecretArn ? { [ENV.openaiApiKeySecretArn]: provider.apiKeySecretArn } : {}),
  };
}

/** The model's own ARN, and for an inference profile the profile and its foundation model in every region. */
function modelArns(scope: Construct, modelId: string): string[] {
  const stack = Stack.of(scope);
  const foundation = (region: string) =>
    Arn.format(
      {
        service: 'bedrock',
        region,
        account: '',
        resource: 'foundation-model',
        resourceName: foundationModelId(modelId),
      },
      stack,
    );
  if (!INFERENCE_PROFILE.test(modelId)) return [foundation(stack.region)];
  return [
    Arn.format(
      {
        service: 'bedrock',
        resource: 'inference-profile',
        resourceName: modelId,
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      },
      stack,
    ),
    foundation('*'),
  ];
}
