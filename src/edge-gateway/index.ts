export default {
  async fetch(): Promise<Response> {
    return new Response("strait gateway", { status: 200 });
  },
};
