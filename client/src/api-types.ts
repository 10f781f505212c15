/**
 * Generated from the served OpenAPI document (client/openapi.json) by `npm run generate:client`.
 * Do not edit: a test fails when this file and the document the API serves disagree.
 */
export interface paths {
  '/v1/jobs': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** List the tenant's jobs, newest first */
    get: operations['listJobs'];
    put?: never;
    /** Submit a job */
    post: operations['createJob'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/jobs/{id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Get a job */
    get: operations['getJob'];
    put?: never;
    post?: never;
    /** Cancel a job (idempotent) */
    delete: operations['deleteJob'];
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/jobs/{id}/events': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Page through the job's event log, oldest first */
    get: operations['listJobEvents'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/jobs/{id}/stream': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Follow the job's events live (Server-Sent Events)
     * @description Each message: `id: <seq>`, `event: <type>`, `data: <JobEvent JSON>`. Comment keep-alives every 15 s. Ends after the terminal event, or after a maximum duration: reconnect with Last-Event-ID to resume.
     */
    get: operations['streamJobEvents'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/jobs/{id}/cancel': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Cancel a job (idempotent) */
    post: operations['cancelJob'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/jobs/{id}/input': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Answer the job's input request
     * @description Only while the job is `input_required`; the answer must match `inputRequest.schema` when there is one.
     */
    post: operations['submitJobInput'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/jobs/{id}/deliveries': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** The job's webhook deliveries, each with every attempt */
    get: operations['listJobDeliveries'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/jobs/{id}/deliveries/{deliveryId}/replay': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Send a delivery again
     * @description Same `webhook-id` and body, fresh `webhook-timestamp` and signature; retried on the schedule like the first round. At most 5 replays per delivery per hour (429 `rate_limited` with Retry-After beyond).
     */
    post: operations['replayJobDelivery'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/agents': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** The agents this deployment runs */
    get: operations['listAgents'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/agents/{name}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** One agent: its version, input schema and availability */
    get: operations['getAgent'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/usage': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * The tenant's consumption per UTC day, and its limits
     * @description Jobs, answered model calls, tokens and list-price cost per day, days without activity left out. Each job and each answered model call is counted once, on the day its step was recorded.
     */
    get: operations['getUsage'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/health/live': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Liveness */
    get: operations['getLiveness'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/health/ready': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Readiness: table, state machine and model provider */
    get: operations['getReadiness'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/openapi.json': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** This document */
    get: operations['getOpenApiDocument'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
}
export type webhooks = Record<string, never>;
export interface components {
  schemas: {
    Job: {
      /** @example job_01jd3k5q7x9v2m4n6p8r0s2t4w */
      id: string;
      agent: string;
      /** @enum {string} */
      status: 'pending' | 'running' | 'input_required' | 'succeeded' | 'failed' | 'cancelled';
      attempt: number;
      input: components['schemas']['JsonValue'];
      metadata: {
        [key: string]: components['schemas']['JsonValue'];
      };
      progress: {
        fraction: number;
        step: number;
        message: string | null;
      };
      result: components['schemas']['JsonValue'];
      error: {
        /** @enum {string} */
        code:
          | 'agent_error'
          | 'step_timeout'
          | 'job_timeout'
          | 'model_unavailable'
          | 'model_error'
          | 'start_failed'
          | 'input_timeout'
          | 'execution_aborted'
          | 'execution_lost'
          | 'internal_error';
        message: string;
        retryable: boolean;
      } | null;
      /** @description The version of the agent that runs the job. */
      agentVersion: string | null;
      inputRequest: {
        /** @enum {string} */
        type: 'question' | 'tool_calls';
        prompt: string;
        schema?: {
          [key: string]: components['schemas']['JsonValue'];
        };
        /** @description With `type: "tool_calls"`: answer with `{"toolOutputs": [{"toolCallId", "output"}]}`. */
        toolCalls?: {
          id: string;
          name: string;
          arguments: {
            [key: string]: components['schemas']['JsonValue'];
          };
        }[];
      } | null;
      /** @description Token usage of the answered model calls; null for agents that call no model. */
      usage: {
        inputTokens: number;
        outputTokens: number;
        totalTokens: number;
        modelCalls: number;
        costUsd: number | null;
      } | null;
      /** Format: date-time */
      createdAt: string;
      /** Format: date-time */
      updatedAt: string;
      /** Format: date-time */
      startedAt: string | null;
      /** Format: date-time */
      completedAt: string | null;
      /** Format: date-time */
      expiresAt: string;
      links: {
        self: string;
        cancel: string;
        events: string;
        stream: string;
      };
      /** @description Only on GET of a pending job waiting for one of its tenant's running slots (`maxRunningJobs`): its place in the tenant's queue, 1 = next to start. Absent once admitted. */
      queue?: {
        position: number;
      };
      /** @description Only in events and webhooks: large values this copy leaves out (shown as null, metadata as {}); GET the job (`links.self`) for them whole. */
      omitted?: ('input' | 'metadata' | 'result')[];
    };
    /** @description Any JSON value */
    JsonValue: unknown;
    Problem: {
      type: string;
      title: string;
      status: number;
      detail: string;
      code: string;
      errors?: {
        path: string;
        message: string;
      }[];
    };
    CreateJobRequest: {
      /** @description Name of a registered agent, e.g. `echo`. */
      agent: string;
      /** @description Agent input; validated against the agent's input schema. */
      input: unknown;
      /** @description Free-form, returned as given; at most 16384 bytes serialized. */
      metadata?: {
        [key: string]: components['schemas']['JsonValue'];
      };
      /** @description Where to POST signed events (Standard Webhooks) when the job succeeds, fails, is cancelled or needs input. https only in a deployed stack. */
      webhook?: {
        /** Format: uri */
        url: string;
      };
      /** @description Bound on the whole run; defaults to and may not exceed the agent's limits. */
      timeoutSeconds?: number;
      /** @description How long the job waits for each answer when an agent asks for input; defaults to and may not exceed the agent's limits. */
      inputTimeoutSeconds?: number;
    };
    JobList: {
      items: components['schemas']['JobSummary'][];
      /** @description Pass as `cursor` for the next page; null at the end. A page may end early to stay under 1 MiB. */
      nextCursor: string | null;
    };
    /** @description A job as listed: without `input` and `result` (fetch the job for them). */
    JobSummary: {
      /** @example job_01jd3k5q7x9v2m4n6p8r0s2t4w */
      id: string;
      agent: string;
      /** @enum {string} */
      status: 'pending' | 'running' | 'input_required' | 'succeeded' | 'failed' | 'cancelled';
      attempt: number;
      metadata: {
        [key: string]: components['schemas']['JsonValue'];
      };
      progress: {
        fraction: number;
        step: number;
        message: string | null;
      };
      error: {
        /** @enum {string} */
        code:
          | 'agent_error'
          | 'step_timeout'
          | 'job_timeout'
          | 'model_unavailable'
          | 'model_error'
          | 'start_failed'
          | 'input_timeout'
          | 'execution_aborted'
          | 'execution_lost'
          | 'internal_error';
        message: string;
        retryable: boolean;
      } | null;
      /** @description The version of the agent that runs the job. */
      agentVersion: string | null;
      inputRequest: {
        /** @enum {string} */
        type: 'question' | 'tool_calls';
        prompt: string;
        schema?: {
          [key: string]: components['schemas']['JsonValue'];
        };
        /** @description With `type: "tool_calls"`: answer with `{"toolOutputs": [{"toolCallId", "output"}]}`. */
        toolCalls?: {
          id: string;
          name: string;
          arguments: {
            [key: string]: components['schemas']['JsonValue'];
          };
        }[];
      } | null;
      /** @description Token usage of the answered model calls; null for agents that call no model. */
      usage: {
        inputTokens: number;
        outputTokens: number;
        totalTokens: number;
        modelCalls: number;
        costUsd: number | null;
      } | null;
      /** Format: date-time */
      createdAt: string;
      /** Format: date-time */
      updatedAt: string;
      /** Format: date-time */
      startedAt: string | null;
      /** Format: date-time */
      completedAt: string | null;
      /** Format: date-time */
      expiresAt: string;
      links: {
        self: string;
        cancel: string;
        events: string;
        stream: string;
      };
      /** @description Only on GET of a pending job waiting for one of its tenant's running slots (`maxRunningJobs`): its place in the tenant's queue, 1 = next to start. Absent once admitted. */
      queue?: {
        position: number;
      };
      /** @description Only in events and webhooks: large values this copy leaves out (shown as null, metadata as {}); GET the job (`links.self`) for them whole. */
      omitted?: ('input' | 'metadata' | 'result')[];
    };
    JobEventList: {
      items: components['schemas']['JobEvent'][];
      /** @description Pass as `after` for the next page; null at the end of the log. */
      nextCursor: string | null;
    };
    JobEvent: {
      seq: number;
      /** @enum {string} */
      type:
        | 'job.created'
        | 'job.running'
        | 'job.progress'
        | 'job.input_required'
        | 'job.succeeded'
        | 'job.failed'
        | 'job.cancelled'
        | 'job.redriven'
        | 'job.output.delta'
        | 'job.tool_call'
        | 'job.output.reset';
      /** Format: date-time */
      at: string;
      /** @description What changed: progress {fraction, step, message, data}, running {status, attempt, startedAt}; the whole job for job.created and terminal events. job.output.delta {step, text}: model call `step` streams text; joined in log order, the texts of one step are that call's text. job.tool_call {step, id, name, arguments}: when the data would pass 64 KiB, arguments is null, with argumentsTruncated {bytes}. job.output.reset {step}: an earlier attempt of call `step` broke off; drop the deltas and tool calls of that step received so far (the retry's follow). job.redriven starts the steps over at 1. */
      data: unknown;
    };
    SubmitInputRequest: {
      /** @description The answer; at most 65536 bytes serialized. */
      input: unknown;
    };
    DeliveryList: {
      items: components['schemas']['Delivery'][];
    };
    Delivery: {
      /** @example dlv_7 */
      id: string;
      /** @description The `webhook-id` header: the same on every attempt and replay. */
      webhookId: string;
      /** @enum {string} */
      type: 'job.succeeded' | 'job.failed' | 'job.cancelled' | 'job.input_required';
      url: string;
      /** @enum {string} */
      status: 'pending' | 'delivered' | 'failed';
      /** @description The latest attempts (at most 20), oldest first. */
      attempts: {
        /** Format: date-time */
        at: string;
        /** @description The receiver's answer, when there was one. */
        httpStatus?: number;
        /** @description Why there was no usable answer; a deployed stack gives one message for every attempt that got none. */
        error?: string;
        durationMs: number;
      }[];
      /** @description Every attempt made, including those no longer listed. */
      attemptCount: number;
      /**
       * Format: date-time
       * @description When the next attempt is due, while pending.
       */
      nextAttemptAt: string | null;
    };
    AgentList: {
      items: components['schemas']['Agent'][];
    };
    Agent: {
      name: string;
      version: string;
      description: string;
      /** @description JSON Schema (draft 2020-12) of the input. */
      inputSchema: {
        [key: string]: unknown;
      };
      available: boolean;
      unavailableReason?: string;
    };
    UsageReport: {
      /** @description Days with activity, oldest first. */
      items: components['schemas']['UsageDay'][];
      limits: components['schemas']['TenantLimits'];
    };
    UsageDay: {
      /**
       * Format: date
       * @example 2026-12-05
       */
      date: string;
      /** @description Jobs that recorded their first step that day. */
      jobs: number;
      /** @description Answered model calls. */
      modelCalls: number;
      inputTokens: number;
      outputTokens: number;
      /** @description List-price estimate of the day's model calls; null when a call that day was of a model without a price. */
      costUsd: number | null;
    };
    /** @description The tenant's effective limits: its own over the deployment's defaults. */
    TenantLimits: {
      requestsPerMinute: number;
      tokensPerMinute: number;
      maxRunningJobs: number;
      maxQueuedJobs: number;
      maxStreams: number;
    };
    Health: {
      /** @enum {string} */
      status: 'ok' | 'unavailable';
      checks?: {
        name: string;
        /** @enum {string} */
        status: 'ok' | 'unavailable';
        detail: string;
      }[];
    };
  };
  responses: {
    /** @description Over a tenant limit (problem+json): `rate_limited` over requestsPerMinute. Nothing was done: send the request again after Retry-After seconds. */
    TooManyRequests: {
      headers: {
        'Retry-After': components['headers']['Retry-After'];
        RateLimit: components['headers']['RateLimit'];
        'RateLimit-Policy': components['headers']['RateLimit-Policy'];
        [name: string]: unknown;
      };
      content: {
        'application/problem+json': components['schemas']['Problem'];
      };
    };
  };
  parameters: never;
  requestBodies: never;
  headers: {
    /**
     * @description What is left of the request-rate policy: `r` requests, the window full again in `t` seconds.
     * @example "requests";r=598;t=1
     */
    RateLimit: string;
    /**
     * @description The tenant's request-rate policy: `q` requests per `w` seconds (requestsPerMinute).
     * @example "requests";q=600;w=60
     */
    'RateLimit-Policy': string;
    /** @description Seconds to wait before sending the request again. */
    'Retry-After': number;
  };
  pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
  listJobs: {
    parameters: {
      query?: {
        status?: 'pending' | 'running' | 'input_required' | 'succeeded' | 'failed' | 'cancelled';
        limit?: number;
        cursor?: string;
      };
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description A page of jobs */
      200: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['JobList'];
        };
      };
      /** @description Problem details (RFC 9457) */
      400: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      429: components['responses']['TooManyRequests'];
    };
  };
  createJob: {
    parameters: {
      query?: never;
      header?: {
        'idempotency-key'?: string;
        /** @description RFC 7240. `wait=N` (N up to 20) holds the request until the job is terminal or N seconds pass. */
        prefer?: string;
      };
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['CreateJobRequest'];
      };
    };
    responses: {
      /** @description The job finished within the `Prefer: wait` */
      200: {
        headers: {
          /** @description Present when the job became terminal within the wait, e.g. `wait=10`. */
          'Preference-Applied': string;
          Location: string;
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['Job'];
        };
      };
      /** @description Accepted */
      202: {
        headers: {
          Location: string;
          /** @description Seconds to wait before polling again; absent once terminal. */
          'Retry-After': number;
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['Job'];
        };
      };
      /** @description Problem details (RFC 9457) */
      400: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      409: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      413: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      415: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      422: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description `rate_limited` over requestsPerMinute; `quota_exceeded` when the tenant already has maxQueuedJobs jobs pending: retry after Retry-After, by which time running jobs may have finished. Nothing was created. */
      429: components['responses']['TooManyRequests'];
    };
  };
  getJob: {
    parameters: {
      query?: never;
      header?: {
        /** @description RFC 7240. `wait=N` (N up to 20) holds the request until the job is terminal or N seconds pass. */
        prefer?: string;
        /** @description The ETag of the job the client holds: `304 Not Modified` if it is still current. */
        'if-none-match'?: string;
      };
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The job (terminal if Preference-Applied is present) */
      200: {
        headers: {
          /** @description Validator of this representation of the job. */
          ETag: string;
          /** @description Seconds to wait before polling again; absent once terminal. */
          'Retry-After': number;
          /** @description Present when the job became terminal within the wait, e.g. `wait=10`. */
          'Preference-Applied'?: string;
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['Job'];
        };
      };
      /** @description The job has not changed since the ETag given in If-None-Match (no body) */
      304: {
        headers: {
          /** @description Validator of this representation of the job. */
          ETag: string;
          /** @description Seconds to wait before polling again; absent once terminal. */
          'Retry-After': number;
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content?: never;
      };
      /** @description Problem details (RFC 9457) */
      400: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      404: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      429: components['responses']['TooManyRequests'];
    };
  };
  deleteJob: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The cancelled job */
      200: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['Job'];
        };
      };
      /** @description Problem details (RFC 9457) */
      400: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      404: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      409: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      429: components['responses']['TooManyRequests'];
    };
  };
  listJobEvents: {
    parameters: {
      query?: {
        /** @description Seq of the last event already seen; 0 (the default) reads from the first. */
        after?: number | null;
        limit?: number;
      };
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description A page of events */
      200: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['JobEventList'];
        };
      };
      /** @description Problem details (RFC 9457) */
      400: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      404: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      429: components['responses']['TooManyRequests'];
    };
  };
  streamJobEvents: {
    parameters: {
      query?: {
        /** @description Seq of the last event already seen; 0 (the default) reads from the first. */
        after?: number | null;
      };
      header?: {
        /** @description Seq of the last event already seen; 0 (the default) reads from the first. */
        'last-event-id'?: number | null;
      };
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The event stream */
      200: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'text/event-stream': string;
        };
      };
      /** @description The job is terminal and the client already has its last event: stop. */
      204: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content?: never;
      };
      /** @description Problem details (RFC 9457) */
      400: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      404: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description `rate_limited` over requestsPerMinute, or when the tenant already has maxStreams event streams open. Answered before any event; retry after Retry-After or once one of those streams ends. */
      429: components['responses']['TooManyRequests'];
    };
  };
  cancelJob: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The cancelled job */
      200: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['Job'];
        };
      };
      /** @description Problem details (RFC 9457) */
      400: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      404: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      409: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      429: components['responses']['TooManyRequests'];
    };
  };
  submitJobInput: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['SubmitInputRequest'];
      };
    };
    responses: {
      /** @description The job, running again */
      200: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['Job'];
        };
      };
      /** @description Problem details (RFC 9457) */
      400: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      404: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      409: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      413: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      415: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      429: components['responses']['TooManyRequests'];
    };
  };
  listJobDeliveries: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The deliveries, oldest event first */
      200: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['DeliveryList'];
        };
      };
      /** @description Problem details (RFC 9457) */
      400: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      404: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      429: components['responses']['TooManyRequests'];
    };
  };
  replayJobDelivery: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
        deliveryId: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Queued */
      202: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['Delivery'];
        };
      };
      /** @description Problem details (RFC 9457) */
      400: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      404: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description `rate_limited` over requestsPerMinute, or after 5 replays of this delivery in the last hour. Nothing was queued: retry after Retry-After. */
      429: components['responses']['TooManyRequests'];
    };
  };
  listAgents: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The agents */
      200: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['AgentList'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      429: components['responses']['TooManyRequests'];
    };
  };
  getAgent: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The agent */
      200: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['Agent'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      404: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      429: components['responses']['TooManyRequests'];
    };
  };
  getUsage: {
    parameters: {
      query?: {
        /** @description First UTC day, YYYY-MM-DD; default 29 days before `to`. */
        from?: string;
        /** @description Last UTC day, YYYY-MM-DD, at most 92 days after `from`; default today (UTC). */
        to?: string;
      };
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The usage */
      200: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['UsageReport'];
        };
      };
      /** @description Problem details (RFC 9457) */
      400: {
        headers: {
          RateLimit: components['headers']['RateLimit'];
          'RateLimit-Policy': components['headers']['RateLimit-Policy'];
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Problem details (RFC 9457) */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      429: components['responses']['TooManyRequests'];
    };
  };
  getLiveness: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Alive */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['Health'];
        };
      };
    };
  };
  getReadiness: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Ready */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['Health'];
        };
      };
      /** @description Not ready */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['Health'];
        };
      };
    };
  };
  getOpenApiDocument: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description OpenAPI 3.1 */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            [key: string]: unknown;
          };
        };
      };
    };
  };
}
