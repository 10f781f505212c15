import { fileURLToPath } from 'node:url';
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config/env.js';
import { SERVICE_NAME } from '../../lambdas/config/logger.js';
import { DEFAULT_FUNCTION_TIMEOUT_SECONDS, HANDLER_METADATA_KEY } from '../../lambdas/config/routes.js';
import { HANDLER_BUNDLING, HANDLER_NODE_OPTIONS, valuesClientBuildCommand } from './handler-bundling.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Variables every function gets; anything else is granted per function by the construct that needs it. */
export const BASE_ENVIRONMENT: Readonly<Record<string, string>> = {
  NODE_OPTIONS: HANDLER_NODE_OPTIONS,
  POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
  [ENV.deployment]: 'aws',
};

export interface HandlerFunctionProps {
  /** File name (without `.ts`) under lambdas/handlers/. */
  readonly handler: string;
  readonly logRetention: RetentionDays;
  readonly timeout?: Duration;
  readonly memorySize?: number;
}

/**
 * The one place that decides how a handler is built and run, so all functions share runtime,
 * architecture, tracing, bundling and logging, and differ only in what they are granted.
 */
export class HandlerFunction extends Construct {
  public readonly handlerName: string;
  public readonly function: NodejsFunction;
  public readonly logGroup: LogGroup;
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    this.handlerName = props.handler;
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention });
    this.role = this.createRole();
    this.function = new NodejsFunction(this, 'Function', {
      entry: `${PROJECT_ROOT}lambdas/handlers/${props.handler}.ts`,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      tracing: Tracing.ACTIVE,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(DEFAULT_FUNCTION_TIMEOUT_SECONDS),
      role: this.role,
      logGroup: this.logGroup,
      environment: { ...BASE_ENVIRONMENT },
      bundling: {
        ...HANDLER_BUNDLING,
        format: OutputFormat.ESM,
        mainFields: [...HANDLER_BUNDLING.mainFields],
        externalModules: [...HANDLER_BUNDLING.externalModules],
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir, outputDir) => [valuesClientBuildCommand(inputDir, outputDir)],
        },
      },
    });
    (this.function.node.defaultChild as CfnFunction).addMetadata(HANDLER_METADATA_KEY, props.handler);
    this.acknowledgeFindings();
  }

  /** Each function writes only to its own log group, instead of the managed policy's logs:* on every group. */
  private createRole(): iam.Role {
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    return role;
  }

  private acknowledgeFindings(): void {
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray PutTraceSegments/PutTelemetryRecords and, for stream consumers, dynamodb:ListStreams support no resource-level permissions.',
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is pinned on purpose: bundles target node22 and are tested against it, so a runtime move is a reviewed change, not a side effect of a CDK upgrade.',
    });
  }
}
