import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { withoutSdkLogging } from './sdk-clients.js';

/**
 * The part of the S3 client the large-value store uses, in a module of its own that the store
 * imports the first time it stores or reads a value. Deployed functions carry it as a file next to
 * their bundle, not inside it (VALUES_CLIENT in lib/constructs/handler-bundling.ts), built with only
 * these commands rather than all of S3's.
 */
export { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client };

export const newS3Client = () => withoutSdkLogging(new S3Client({}));
