import { UserError } from '../../util/errors.js';
import type { ModelProvider } from './types.js';

export type ProviderName = 'openai' | 'anthropic';

export interface ProviderConfig {
  provider?: string;
  model?: string;
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_MODELS: Record<ProviderName, string> = { openai: 'gpt-4.1', anthropic: 'claude-sonnet-4-5' };

/**
 * The model provider from flags and the environment: --provider / TIMEFS_PROVIDER (default: the
 * one whose key is set, OpenAI when both or neither), --model / TIMEFS_MODEL, keys and endpoints
 * from the variables each SDK documents. SDKs load lazily: `timefs ls` never pays for them.
 */
export async function createProvider(config: ProviderConfig = {}): Promise<ModelProvider> {
  const env = config.env ?? process.env;
  const requested = config.provider ?? env.TIMEFS_PROVIDER;
  if (requested !== undefined && requested !== 'openai' && requested !== 'anthropic') {
    throw new UserError(`unknown provider '${requested}': use openai (any OpenAI-compatible endpoint) or anthropic`);
  }
  const name: ProviderName = requested ?? (env.ANTHROPIC_API_KEY && !env.OPENAI_API_KEY ? 'anthropic' : 'openai');
  const model = config.model ?? env.TIMEFS_MODEL ?? DEFAULT_MODELS[name];
  const maxRetries = env.TIMEFS_MAX_RETRIES ? Number(env.TIMEFS_MAX_RETRIES) : 4;
  if (name === 'openai') {
    const apiKey = env.OPENAI_API_KEY;
    if (!apiKey) {
      throw new UserError(
        'no API key for OpenAI: set OPENAI_API_KEY (for a keyless OpenAI-compatible server, any value, with OPENAI_BASE_URL=http://host:port/v1), or set ANTHROPIC_API_KEY and use --provider anthropic',
      );
    }
    const { OpenAIProvider } = await import('./openai.js');
    return new OpenAIProvider({ apiKey, model, maxRetries, ...(env.OPENAI_BASE_URL ? { baseURL: env.OPENAI_BASE_URL } : {}) });
  }
  const apiKey = env.ANTHROPIC_API_KEY;
  if (!apiKey) throw new UserError('no API key for Anthropic: set ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL for another endpoint), or use --provider openai with OPENAI_API_KEY');
  const { AnthropicProvider } = await import('./anthropic.js');
  return new AnthropicProvider({ apiKey, model, maxRetries, ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}) });
}
